import LinuxSupport
import Logging
import Reports

/// The wrapper's own stderr: stdout belongs to the child.
enum Terminal {
    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in try? writeAll(2, UnsafeRawBufferPointer(bytes)) }
    }

    static func error(_ message: String) { write(message + "\n") }
    static func warning(_ message: String) { write("sustain-measure: warning: \(message)\n") }

    /// Logs go to stderr: warnings by default, debug with --verbose.
    static func bootstrapLogging(verbose: Bool) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .debug : .warning
            return EscapingLogHandler(handler)
        }
        return Logger(label: "sustain.measure")
    }
}

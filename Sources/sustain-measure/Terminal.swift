import Glibc
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

    static var isInteractive: Bool { isatty(2) == 1 }

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

/// Signal names for the report.
enum SignalName {
    static func of(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        case SIGQUIT: "SIGQUIT"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        default: "SIG\(signal)"
        }
    }
}

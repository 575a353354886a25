import Glibc

/// The process's arguments as the kernel gave them, byte for byte. `CommandLine.arguments` repairs bytes that are
/// not UTF-8 into U+FFFD, which would make a wrapper run a different command than the one it was given.
public enum RawArguments {
    /// argv without argv[0].
    public static func current() -> [[UInt8]] {
        (1..<Int(CommandLine.argc)).map { index in
            guard let argument = CommandLine.unsafeArgv[index] else { return [] }
            return UnsafeRawBufferPointer(start: argument, count: strlen(argument)).map { $0 }
        }
    }

    /// A command line cut at its first `--`: what comes before is for the argument parser, what comes after is a
    /// command to run exactly. The parser gets only the options, `--` and the command's first argument, so that
    /// parsing costs the same however long the command is.
    public struct Split: Sendable {
        /// The arguments for the parser, as text.
        public var parserArguments: [String]
        /// The command after `--`, byte for byte; nil when there is no `--`.
        public var command: [[UInt8]]?
    }

    public static func split(_ arguments: [[UInt8]]) -> Split {
        let terminator = Array("--".utf8)
        guard let index = arguments.firstIndex(of: terminator) else {
            return Split(parserArguments: arguments.map(text), command: nil)
        }
        let command = Array(arguments[(index + 1)...])
        return Split(
            parserArguments: arguments[...index].map(text) + command.prefix(1).map(text),
            command: command.isEmpty ? nil : command)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}

/// Mounts a filesystem: `mount(2)` with no flags. Used by the test fixture to lay a tmpfs over `/sys/class` inside
/// a private mount namespace.
public func mountFilesystem(type: String, on target: String, options: String? = nil) throws(SystemError) {
    try Syscalls.mount("none", on: target, type: type, options: options)
}

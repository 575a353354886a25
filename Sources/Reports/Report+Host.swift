import LinuxSupport

extension Report.Host {
    /// This machine: its host name and kernel release.
    public static func current() -> Report.Host {
        Report.Host(hostname: HostFacts.hostname(), kernel: HostFacts.kernelRelease())
    }
}

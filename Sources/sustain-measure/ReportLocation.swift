import LinuxSupport

enum ReportLocation {
    /// `$XDG_STATE_HOME/sustain/reports/<id>.json`, else `~/.local/state/sustain/reports/<id>.json`.
    static func defaultPath(id: String) -> String {
        let state: String
        if let xdg = CurrentProcess.variable("XDG_STATE_HOME"), xdg.hasPrefix("/") {
            state = xdg
        } else {
            state = CurrentProcess.home + "/.local/state"
        }
        return state + "/sustain/reports/\(id).json"
    }
}

/// Ancestry in /proc: is a process in the tree under another?
public enum ProcessTree {
    /// True when `pid` is `root` or one of its descendants.
    public static func isDescendant(_ pid: Int32, of root: Int32) -> Bool { lineage(of: pid).contains(root) }

    /// `pid`, its parent, its grandparent, … up to init (parent pids through /proc/<pid>/stat; at most 64).
    public static func lineage(of pid: Int32) -> [Int32] {
        var result = [pid]
        var current = pid
        while result.count < 64, current > 1, let parent = parent(of: current) {
            result.append(parent)
            current = parent
        }
        return result
    }

    /// The parent pid (/proc/<pid>/stat field 4).
    public static func parent(of pid: Int32) -> Int32? {
        ProcessIdentity.statField(4, of: pid).flatMap { Int32($0) }
    }
}

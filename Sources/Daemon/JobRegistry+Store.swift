import Foundation
import Logging
import Reports

/// What the store's trouble means for the jobs: a finished job is never lost to a full or read-only disk (it is
/// kept and retried every checkpoint), and a database deleted or replaced under the daemon is made anew with the
/// open jobs written back.
extension JobRegistry {
    /// The store's state, for `/v1/health` and `/metrics`.
    public struct StoreHealth: Sendable, Equatable {
        /// Why the store last failed; nil while it works.
        public var failure: String?
        /// Finished jobs kept in memory until the store takes them.
        public var pendingJobs: Int
    }

    public var storeHealth: StoreHealth { StoreHealth(failure: storeFailure, pendingJobs: pending.count) }

    /// A finished job the store has not taken yet, by id.
    public func pendingReport(_ id: String) -> JobRecord? { pending.first { $0.id == id } }

    /// Logs a finished job to the store; when the store fails, keeps it for `maintainStore()` and says so in the
    /// report.
    func record(_ report: inout Report, identity: Identity, state: String) {
        let record: JobRecord
        do {
            record = try JobRecord(report: report, identity: identity, labels: report.labels, state: state)
        } catch {
            logger.error("cannot encode the job's record", metadata: ["id": "\(report.id)", "error": "\(error)"])
            report.warnings.append("The daemon could not record this job in its database: \(error).")
            return
        }
        if pending.isEmpty, storeFileIsCurrent() {
            do {
                try store.insert(record)
                return
            } catch {
                storeFailed(error, doing: "record job \(report.id)")
            }
        }
        pending.append(record)
        report.warnings.append(
            "The daemon's database cannot take this job now (\(storeFailure ?? "failing")): the daemon keeps it and "
                + "retries every checkpoint until it is logged. This report is complete.")
    }

    /// Every checkpoint: reopens a database that was deleted or replaced (writing the open jobs back), then
    /// retries the finished jobs the store could not take.
    public func maintainStore() {
        guard storeFileIsCurrent() else { return }
        var taken = 0
        for record in pending {
            do {
                try store.insert(record)
                taken += 1
            } catch {
                storeFailed(error, doing: "retry \(pending.count - taken) job(s)")
                break
            }
        }
        pending.removeFirst(taken)
        if taken > 0 { logger.notice("logged jobs the store had refused", metadata: ["jobs": "\(taken)"]) }
        if pending.isEmpty, storeFailure != nil {
            logger.notice("the database works again")
            storeFailure = nil
        }
    }

    /// Reopens a database that was deleted or replaced under the daemon (writing the open jobs back) before
    /// anything is written to it: at every write, not only every checkpoint, so a job that finishes in between is
    /// not logged to an unlinked file and lost. One `stat` of the path. False (said) when it cannot be reopened.
    func storeFileIsCurrent() -> Bool {
        do {
            if try store.reopenIfReplaced() {
                logger.critical(
                    "the database file was deleted or replaced while the daemon ran: made anew, open jobs written back",
                    metadata: ["database": "\(store.path)", "open_jobs": "\(jobs.count)"])
                for job in jobs.values { persistOpen(job) }
            }
            return true
        } catch {
            storeFailed(error, doing: "reopen the replaced database")
            return false
        }
    }

    /// Notes a store failure for the health route and the metrics.
    func storeFailed(_ error: any Error, doing what: String) {
        let reason = "\(error)"
        if storeFailure != reason {
            logger.error("the database is failing", metadata: ["while": "\(what)", "error": "\(reason)"])
        }
        storeFailure = reason
    }

    /// The store worked: clears the failure when nothing is waiting.
    func storeWorked() {
        if pending.isEmpty { storeFailure = nil }
    }
}

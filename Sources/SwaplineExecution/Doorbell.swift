/// Wakes a waiting worker early (on NOTIFY) or lets it sleep until a timeout (the slow poll).
actor Doorbell {
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var generation = 0

    func ring() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            rung = true
        }
    }

    func wait(upTo timeout: Duration) async {
        if rung {
            rung = false
            return
        }
        generation += 1
        let current = generation
        await withCheckedContinuation { continuation in
            waiter = continuation
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(current)
            }
        }
    }

    private func expire(_ expected: Int) {
        guard generation == expected, let waiter else { return }
        self.waiter = nil
        waiter.resume()
    }
}

// The audit module: see AuditLog.swift.

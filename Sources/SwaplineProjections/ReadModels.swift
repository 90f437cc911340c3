import SwaplineEventStore

/// The read models Swapline keeps, by how they are kept.
public enum ReadModels {
    /// Updated inside every append's transaction: what the API reads back at once.
    public static let inline: [any InlineProjection] = [ExchangesReadModel(), BalancesReadModel()]
}

extension ReadModels {
    /// Kept by projection runners from the global order.
    public static let runners: [any AsyncProjection] = [ExchangeStatistics()]
}

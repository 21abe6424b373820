namespace Portico.Loyalty.Reconciliation;

/// <summary>How far the reconciler has looked (a named watermark), so a scheduled pass reads only what changed since.</summary>
public sealed class ReconcilerState
{
    public required string Name { get; set; }

    public long Value { get; set; }
}

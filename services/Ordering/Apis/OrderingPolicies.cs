namespace Portico.Ordering.Apis;

/// <summary>Names of the authorization policies of the Ordering service.</summary>
public static class OrderingPolicies
{
    /// <summary>A signed-in caller whose token names them (<c>sub</c>): every <c>/api/orders</c> endpoint.</summary>
    public const string Customer = nameof(Customer);
}

namespace Portico.Ordering.Apis;

/// <summary>Names of the authorization policies of the Ordering service.</summary>
public static class OrderingPolicies
{
    /// <summary>A signed-in caller whose token names them (<c>sub</c>): every <c>/api/orders</c> endpoint.</summary>
    public const string Customer = nameof(Customer);

    /// <summary>A service client (role <c>service</c>, from Identity's client_credentials grant): <c>/internal/orders</c>.</summary>
    public const string Service = nameof(Service);

    /// <summary>The role a service client's token carries (Identity's default for <c>Identity:Clients</c>).</summary>
    public const string ServiceRole = "service";
}

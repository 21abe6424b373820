namespace Portico.Loyalty.Apis;

/// <summary>Names of the authorization policies of the Loyalty service.</summary>
public static class LoyaltyPolicies
{
    /// <summary>Callers acting for the system (role <c>service</c> or <c>admin</c>): Accrue and Revert.</summary>
    public const string Service = nameof(Service);

    /// <summary>Operators and services (role <c>admin</c> or <c>service</c>): <c>/admin/reconcile</c> and the dead letters.</summary>
    public const string Admin = nameof(Admin);
}

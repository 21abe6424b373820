namespace Portico.Reporting.Apis;

/// <summary>Names of the authorization policies of the Reporting service.</summary>
public static class ReportingPolicies
{
    /// <summary>The admin role: the shop-wide summary and the dead-letter endpoints.</summary>
    public const string Admin = nameof(Admin);
}

/// <summary>Role names in Identity's tokens (<c>role</c> claims).</summary>
public static class ReportingRoles
{
    public const string Admin = "admin";
}

namespace Portico.Catalog.Apis;

/// <summary>Names of the authorization policies of the Catalog service.</summary>
public static class CatalogPolicies
{
    /// <summary>A signed-in user with the <c>admin</c> role: product writes and the dead letters of Catalog's queue.</summary>
    public const string Admin = nameof(Admin);

    public const string AdminRole = "admin";
}

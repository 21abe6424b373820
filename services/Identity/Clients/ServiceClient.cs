namespace Portico.Identity.Clients;

/// <summary>A service that proved it holds its configured secret: what its access token says about it.</summary>
internal sealed record ServiceClient(string Id, IReadOnlyList<string> Roles)
{
    /// <summary>Starts the <c>sub</c> of a client's token, so that it can never be taken for an account id (a GUID).</summary>
    public const string SubjectPrefix = "client:";

    public string Subject => SubjectPrefix + Id;
}

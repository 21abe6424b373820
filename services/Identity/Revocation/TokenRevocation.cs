namespace Portico.Identity.Revocation;

/// <summary>
/// One subject's access tokens issued before <see cref="RevokedBefore"/> are no longer valid anywhere: the database's
/// record of the revocation list that Identity keeps in the store for the gateway and the services. Kept until
/// <see cref="ExpiresAt"/>, when no token it covers can still be valid; the row outlives a deleted account.
/// </summary>
public sealed class TokenRevocation
{
    /// <summary>The tokens' <c>sub</c>: a user id.</summary>
    public required string Subject { get; set; }

    /// <summary>A whole second (see <c>TokenRevocationStore.RevokedBefore</c>).</summary>
    public DateTimeOffset RevokedBefore { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }
}

using System.ComponentModel.DataAnnotations;

namespace Portico.ServiceDefaults.Authentication.Revocation;

/// <summary>
/// <c>Portico:Jwt:Revocation</c>: how a validator follows the revocation list Identity keeps in the store
/// (<c>ConnectionStrings:store</c>). See <see cref="TokenRevocationList"/>.
/// </summary>
public sealed record TokenRevocationOptions : IValidatableObject
{
    public const string SectionName = "Portico:Jwt:Revocation";

    /// <summary>
    /// How often the local copy is checked against the store (one <c>GET</c>; the list is read again only when it
    /// changed and the change was not already heard on the channel). Changes normally arrive on the channel within
    /// milliseconds; this bounds the delay when a message is lost. At most 5 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:00:05")]
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The local copy is stale when no check has succeeded for this long: the readiness check reports Degraded (fail
    /// open) or Unhealthy (fail closed).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>What a stale copy means for requests; see <see cref="RevocationFailMode"/>.</summary>
    public RevocationFailMode FailMode { get; init; } = RevocationFailMode.Open;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (StaleAfter < RefreshInterval * 2)
        {
            yield return new ValidationResult(
                $"{SectionName}:StaleAfter ({StaleAfter}) must be at least twice {SectionName}:RefreshInterval ({RefreshInterval}).",
                [nameof(StaleAfter)]);
        }
    }
}

/// <summary>What happens while the revocation list cannot be read from the store.</summary>
public enum RevocationFailMode
{
    /// <summary>
    /// Tokens are still accepted: the revocations already known keep being enforced, only those written while the store
    /// is unreachable are missed (Identity cannot write them there either; it writes them again once the store is back).
    /// A warning is logged and readiness reports Degraded. The default: the store is a cache tier, and a store outage
    /// must not become an outage of every signed-in request; tokens still end at their <c>exp</c> (15 minutes).
    /// </summary>
    Open,

    /// <summary>Every token is refused (401) while the copy is stale, and readiness reports Unhealthy.</summary>
    Closed,
}

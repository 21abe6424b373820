using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Portico.Identity.Clients;

/// <summary>
/// Checks a client id and secret against <see cref="IdentityServiceOptions.Clients"/>. Secrets are compared as
/// SHA-256 digests in constant time, and a presented secret is hashed and compared even when the client id is
/// unknown, so neither the answer nor its timing tells which of the two was wrong.
/// </summary>
/// <remarks>
/// The per-address lockout of the password grant is deliberately not applied: client ids are not secret, so
/// anyone could lock the gateway out with a few wrong guesses, while a secret of at least
/// <see cref="ServiceClientRules.MinSecretLength"/> characters is out of reach of online guessing anyway.
/// </remarks>
internal sealed partial class ServiceClientAuthenticator
{
    private readonly FrozenDictionary<string, (byte[] SecretHash, ServiceClient Client)> _clients;

    // Stands in for the secret of an unknown client: the same work is done, and nothing can match it.
    private readonly byte[] _unknownClientHash = RandomNumberGenerator.GetBytes(SHA256.HashSizeInBytes);

    private readonly ILogger<ServiceClientAuthenticator> _logger;

    public ServiceClientAuthenticator(IOptions<IdentityServiceOptions> options, ILogger<ServiceClientAuthenticator> logger)
    {
        _logger = logger;
        _clients = options.Value.Clients.ToFrozenDictionary(
            c => c.Key,
            c => (Hash(c.Value.Secret), new ServiceClient(c.Key, [.. c.Value.EffectiveRoles], [.. c.Value.Resources ?? []])),
            StringComparer.Ordinal);
    }

    /// <summary>The client, when <paramref name="clientId"/> is configured and <paramref name="clientSecret"/> is its secret; null otherwise.</summary>
    public ServiceClient? Authenticate(string clientId, string clientSecret)
    {
        var known = _clients.TryGetValue(clientId, out var client);
        var matches = CryptographicOperations.FixedTimeEquals(Hash(clientSecret), known ? client.SecretHash : _unknownClientHash);
        if (!known)
        {
            return null;
        }
        if (!matches)
        {
            // Only configured ids are logged, never what a caller made up, and never a secret.
            Log.WrongSecret(_logger, client.Client.Id);
            return null;
        }
        return client.Client;
    }

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Service client {ClientId} presented a wrong secret")]
        public static partial void WrongSecret(ILogger logger, string clientId);
    }
}

using System.Globalization;
using StackExchange.Redis;

namespace Portico.ServiceDefaults.Authentication.Revocation;

/// <summary>
/// Where the token revocation list lives in the Redis-protocol store, and how it is written: the contract between
/// Identity (the only writer) and every validator (readers). Plain commands Garnet and Redis 7 both serve — a sorted
/// set, a counter, MULTI/EXEC and pub/sub; no scripts, no streams.
/// <list type="bullet">
/// <item><see cref="SubjectsKey"/>: sorted set, member = a token subject (<c>sub</c>, a user id), score = its
/// "revoked before" time in Unix seconds. A token of that subject whose <c>iat</c> is earlier is refused.
/// Scores only rise (<c>ZADD GT</c>); members older than the entry lifetime are trimmed by the writer.</item>
/// <item><see cref="VersionKey"/>: counter raised in the same transaction as every change, so a reader knows whether
/// it has seen every change.</item>
/// <item><see cref="Channel"/>: one message per change, <c>{version}|{revokedBefore}|{subject}</c>, or
/// <c>{version}|0|*</c> for a batch (read the set again), so readers apply a revocation within milliseconds.</item>
/// </list>
/// </summary>
public static class TokenRevocationStore
{
    public const string SubjectsKey = "portico:revocation:subjects";
    public const string VersionKey = "portico:revocation:version";
    public const string Channel = "portico:revocation";

    /// <summary>The subject of a batch message: read the whole set again.</summary>
    public const string BatchSubject = "*";

    /// <summary>
    /// The "revoked before" time of a revocation decided at <paramref name="now"/>: the next whole second. Token
    /// <c>iat</c>s are whole seconds, so every token issued up to <paramref name="now"/> (its <c>iat</c> at most the
    /// current second) is earlier; Identity stamps tokens it issues for the subject from then on with an <c>iat</c> of
    /// at least this time, so they are not.
    /// </summary>
    public static DateTimeOffset RevokedBefore(DateTimeOffset now) =>
        DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds() + 1);

    /// <summary>
    /// Writes revocations: raises each subject's time (never lowers it), trims entries whose time is more than
    /// <paramref name="entryLifetime"/> before <paramref name="now"/>, raises the version — one transaction — then
    /// tells the readers. Returns the new version. Throws when the store cannot be reached.
    /// </summary>
    public static async Task<long> WriteAsync(IConnectionMultiplexer connection, IReadOnlyList<(string Subject, DateTimeOffset RevokedBefore)> entries,
        DateTimeOffset now, TimeSpan entryLifetime)
    {
        ArgumentOutOfRangeException.ThrowIfZero(entries.Count);
        var db = connection.GetDatabase();
        var transaction = db.CreateTransaction();
        _ = transaction.SortedSetAddAsync(SubjectsKey,
            [.. entries.Select(e => new SortedSetEntry(e.Subject, e.RevokedBefore.ToUnixTimeSeconds()))], SortedSetWhen.GreaterThan);
        _ = transaction.SortedSetRemoveRangeByScoreAsync(SubjectsKey, double.NegativeInfinity, (now - entryLifetime).ToUnixTimeSeconds(), Exclude.Stop);
        var version = transaction.StringIncrementAsync(VersionKey);
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException("The revocation list transaction was not executed.");
        }
        var written = await version;
        var message = entries.Count == 1
            ? Message(written, entries[0].RevokedBefore.ToUnixTimeSeconds(), entries[0].Subject)
            : Message(written, 0, BatchSubject);
        await connection.GetSubscriber().PublishAsync(RedisChannel.Literal(Channel), message);
        return written;
    }

    /// <summary>The entries with a time after <paramref name="since"/>, by subject.</summary>
    public static async Task<Dictionary<string, long>> ReadAsync(IDatabase db, DateTimeOffset since)
    {
        var entries = await db.SortedSetRangeByScoreWithScoresAsync(SubjectsKey, since.ToUnixTimeSeconds(), double.PositiveInfinity);
        var result = new Dictionary<string, long>(entries.Length, StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            result[entry.Element.ToString()] = (long)entry.Score;
        }
        return result;
    }

    public static string Message(long version, long revokedBefore, string subject) =>
        string.Create(CultureInfo.InvariantCulture, $"{version}|{revokedBefore}|{subject}");

    /// <summary>Reads a channel message; false when it is not one.</summary>
    public static bool TryParse(string? message, out long version, out long revokedBefore, out string subject)
    {
        version = revokedBefore = 0;
        subject = "";
        if (message is null)
        {
            return false;
        }
        var first = message.IndexOf('|');
        var second = first < 0 ? -1 : message.IndexOf('|', first + 1);
        if (second < 0
            || !long.TryParse(message.AsSpan(0, first), NumberStyles.None, CultureInfo.InvariantCulture, out version)
            || !long.TryParse(message.AsSpan(first + 1, second - first - 1), NumberStyles.None, CultureInfo.InvariantCulture, out revokedBefore)
            || second + 1 >= message.Length)
        {
            return false;
        }
        subject = message[(second + 1)..];
        return true;
    }
}

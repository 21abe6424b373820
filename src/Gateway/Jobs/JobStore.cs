using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;
using StackExchange.Redis;

namespace Portico.Gateway.Jobs;

/// <summary>
/// Job status in the Redis-protocol store, with commands Garnet and Redis 7 share (no Lua, no Streams):
/// <list type="bullet">
/// <item><c>{prefix}:{id}</c> — hash, the job (<see cref="JobState"/>); expires <c>Retention</c> after it finished.</item>
/// <item><c>{prefix}:due</c> — sorted set of live jobs by the time the sweeper must look at them.</item>
/// <item><c>{prefix}:idem:{hash}</c> — the job an <c>Idempotency-Key</c> of a user made.</item>
/// <item><c>{prefix}:sweeper</c> — which gateway instance sweeps (<c>SET NX PX</c>, renewed while it does).</item>
/// <item><c>{prefix}:dead</c> — list of jobs that ran out of attempts, newest first.</item>
/// </list>
/// Every change is optimistic: read the hash, compute the next state, and write it in a <c>WATCH</c>/<c>MULTI</c>
/// transaction that holds only if the job's version is unchanged, so two gateways (or a result racing the sweeper)
/// never both move a job, and a finished job is never moved again.
/// </summary>
internal sealed class JobStore(GatewayStore store, IOptions<JobsOptions> options)
{
    private const int MaxConflicts = 50;

    private readonly string _prefix = options.Value.KeyPrefix;

    private IDatabase Db => store.Database;

    private string DueKey => _prefix + ":due";

    private string SweeperKey => _prefix + ":sweeper";

    public string DeadLetterKey => _prefix + ":dead";

    private RedisKey JobKey(Guid id) => $"{_prefix}:{id:D}";

    private RedisKey IdempotencyKey(string owner, string job, string key)
    {
        // Hashed: user ids and client keys may hold any character, including the separator.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{owner}\n{job}\n{key}"));
        return $"{_prefix}:idem:{Convert.ToHexStringLower(hash)}";
    }

    public async Task<JobState?> GetAsync(Guid id) => JobState.FromHash(await Db.HashGetAllAsync(JobKey(id)));

    /// <summary>
    /// Stores a new job, unless <paramref name="idempotencyKey"/> already made one for this user and job: then that job
    /// is returned, and <c>Created</c> is false. Both happen in one transaction, so racing requests with one key make one job.
    /// </summary>
    public async Task<(JobState Job, bool Created)> CreateAsync(JobState job, string? idempotencyKey)
    {
        var retention = options.Value.Retention;
        for (var i = 0; i < MaxConflicts; i++)
        {
            var transaction = Db.CreateTransaction();
            RedisKey? idemKey = idempotencyKey is null ? (RedisKey?)null : IdempotencyKey(job.Owner, job.Job, idempotencyKey);
            if (idemKey is { } k)
            {
                transaction.AddCondition(Condition.KeyNotExists(k));
                _ = transaction.StringSetAsync(k, job.Id.ToString("D"), retention);
            }
            _ = transaction.HashSetAsync(JobKey(job.Id), job.ToHash());
            _ = transaction.SortedSetAddAsync(DueKey, job.Id.ToString("D"), job.Due.ToUnixTimeMilliseconds());
            if (await transaction.ExecuteAsync())
            {
                return (job, true);
            }
            var existingId = await Db.StringGetAsync(idemKey!.Value);
            if (Guid.TryParse(existingId.ToString(), out var id) && await GetAsync(id) is { } existing)
            {
                return (existing, false);
            }
            // The key outlived its job (both expire): let it go and try again.
            var release = Db.CreateTransaction();
            release.AddCondition(Condition.StringEqual(idemKey.Value, existingId));
            _ = release.KeyDeleteAsync(idemKey.Value);
            await release.ExecuteAsync();
        }
        throw new RedisException($"Storing job {job.Id} kept conflicting with other writers.");
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the job as stored, if it returns a new state, and writes it only if nobody
    /// changed the job meanwhile (else reads and decides again). <paramref name="alongside"/> adds commands to the same
    /// transaction. Returns the state before, and the state written (null when there was no change, or no job).
    /// </summary>
    public async Task<(JobState? Before, JobState? After)> UpdateAsync(Guid id, Func<JobState, JobState?> change, Action<ITransaction, JobState>? alongside = null)
    {
        var key = JobKey(id);
        for (var i = 0; i < MaxConflicts; i++)
        {
            var before = JobState.FromHash(await Db.HashGetAllAsync(key));
            if (before is null)
            {
                return (null, null);
            }
            if (change(before) is not { } after)
            {
                return (before, null);
            }
            after = after with { Version = before.Version + 1 };
            var transaction = Db.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(key, "version", before.Version));
            _ = transaction.HashSetAsync(key, after.ToHash());
            if (after.IsFinal)
            {
                _ = transaction.SortedSetRemoveAsync(DueKey, id.ToString("D"));
                _ = transaction.KeyExpireAsync(key, options.Value.Retention);
            }
            else
            {
                _ = transaction.SortedSetAddAsync(DueKey, id.ToString("D"), after.Due.ToUnixTimeMilliseconds());
            }
            alongside?.Invoke(transaction, after);
            if (await transaction.ExecuteAsync())
            {
                return (before, after);
            }
        }
        throw new RedisException($"Changing job {id} kept conflicting with other writers.");
    }

    /// <summary>Records a job that ran out of attempts in the dead-letter list, in the transaction that fails it.</summary>
    public void DeadLetter(ITransaction transaction, JobState job)
    {
        var letter = JsonSerializer.Serialize(new DeadJob(job.Id, job.Job, job.Owner, job.Attempt, job.Error, job.FinishedAt ?? job.UpdatedAt), JobsJson.Default.DeadJob);
        _ = transaction.ListLeftPushAsync(DeadLetterKey, letter);
        _ = transaction.ListTrimAsync(DeadLetterKey, 0, options.Value.DeadLetterLimit - 1);
    }

    /// <summary>The newest dead-lettered jobs, newest first.</summary>
    public async Task<IReadOnlyList<DeadJob>> DeadLettersAsync(int count) =>
        [.. (await Db.ListRangeAsync(DeadLetterKey, 0, count - 1)).Select(v => JsonSerializer.Deserialize(v.ToString(), JobsJson.Default.DeadJob)!)];

    /// <summary>
    /// Live jobs by job route and status (<c>queued</c>, <c>running</c>), read from at most <paramref name="sample"/> of them
    /// (the oldest), and how many jobs are dead-lettered; for the admin API. Finished jobs are not counted here: they are
    /// only kept to answer their owners, until they expire.
    /// </summary>
    public async Task<JobCounts> CountsAsync(int sample = 1000)
    {
        var live = await Db.SortedSetLengthAsync(DueKey);
        var ids = await Db.SortedSetRangeByRankAsync(DueKey, 0, sample - 1);
        var reads = ids.Select(id => Db.HashGetAsync($"{_prefix}:{id}", ["job", "status"])).ToList();
        var byJob = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (var values in await Task.WhenAll(reads))
        {
            if (values[0].IsNull || values[1].IsNull)
            {
                continue;
            }
            var statuses = byJob.TryGetValue(values[0]!, out var s) ? s : byJob[values[0]!] = new(StringComparer.Ordinal);
            statuses[values[1]!] = statuses.GetValueOrDefault(values[1]!) + 1;
        }
        return new JobCounts(live, ids.Length, byJob, await Db.ListLengthAsync(DeadLetterKey));
    }

    /// <summary>Live jobs whose time is up, oldest first.</summary>
    public async Task<IReadOnlyList<Guid>> DueAsync(DateTimeOffset now, int take)
    {
        var members = await Db.SortedSetRangeByScoreAsync(DueKey, double.NegativeInfinity, now.ToUnixTimeMilliseconds(), take: take);
        return [.. members.Select(m => Guid.TryParse(m.ToString(), out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty)];
    }

    /// <summary>Drops a member whose job is gone (expired, or never fully written).</summary>
    public Task ForgetAsync(Guid id) => Db.SortedSetRemoveAsync(DueKey, id.ToString("D"));

    /// <summary>Takes or renews the sweeper's lease for <paramref name="instance"/>; false while another instance holds it.</summary>
    public async Task<bool> HoldSweeperLeaseAsync(string instance, TimeSpan lease)
    {
        if (await Db.StringSetAsync(SweeperKey, instance, lease, When.NotExists))
        {
            return true;
        }
        var renew = Db.CreateTransaction();
        renew.AddCondition(Condition.StringEqual(SweeperKey, instance));
        _ = renew.KeyExpireAsync(SweeperKey, lease);
        return await renew.ExecuteAsync();
    }

    /// <summary>Gives the lease up at shutdown, so another instance sweeps at once.</summary>
    // SER301 suggests the server-side conditional delete of Redis 8.4; Garnet and Redis 7 have only WATCH.
#pragma warning disable SER301
    public async Task ReleaseSweeperLeaseAsync(string instance)
    {
        var release = Db.CreateTransaction();
        release.AddCondition(Condition.StringEqual(SweeperKey, instance));
        _ = release.KeyDeleteAsync(SweeperKey);
        await release.ExecuteAsync();
    }
#pragma warning restore SER301
}

/// <summary>Live jobs: how many in all, how many were read, and those by job route and status; dead-lettered jobs.</summary>
internal sealed record JobCounts(long Live, int Read, IReadOnlyDictionary<string, Dictionary<string, int>> LiveByJob, long DeadLettered);

/// <summary>A job that ran out of attempts, as the dead-letter list keeps it.</summary>
internal sealed record DeadJob(Guid Id, string Job, string Owner, int Attempts, string? Error, DateTimeOffset At);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DeadJob))]
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class JobsJson : System.Text.Json.Serialization.JsonSerializerContext;

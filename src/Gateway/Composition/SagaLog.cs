using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Gateway.Store;
using StackExchange.Redis;

namespace Portico.Gateway.Composition;

/// <summary>What the log knows of one step: started (it may have been applied), succeeded with its answer, failed definitely (not applied), unknown, or answered what its Expect refuses.</summary>
internal enum SagaStepState
{
    Started,
    Succeeded,
    Failed,
    Unknown,
    Unexpected,
}

internal sealed record SagaStepRecord(SagaStepState State, int Attempts, int Status, string Reason, StepResult? Result);

/// <summary>One saga as the log holds it. <see cref="Final"/> is set once its outcome is settled.</summary>
internal sealed record SagaState(
    string Key,
    string Composition,
    string Fingerprint,
    string Owner,
    long UpdatedMs,
    bool Compensating,
    CompositionInput? Input,
    IReadOnlyDictionary<string, SagaStepRecord> Steps,
    IReadOnlySet<string> Undone,
    CompositionAnswer? Final);

/// <summary>What a fenced write to the saga log came to.</summary>
internal enum SagaWriteOutcome
{
    Written,
    /// <summary>Fenced off: another instance owns the run now (it took it over), or the run is gone from the log.</summary>
    Conflict,
    /// <summary>The store did not take the write within the retry budget (timeouts, a lost connection).</summary>
    StoreFailed,
}

internal readonly record struct SagaWrite(SagaWriteOutcome Outcome, int Attempts, string Reason)
{
    public bool Written => Outcome == SagaWriteOutcome.Written;
}

/// <summary>
/// The saga log of durable compositions in the shared Redis-protocol store: one hash per composition run, keyed by
/// the composition, the caller and the client's <c>Idempotency-Key</c>, with a TTL; and a sorted set of the runs not
/// yet settled, scored by their last write, for the recovery worker. Every write after the first is conditional on
/// the run's owner (WATCH/MULTI), so an instance that lost a run to recovery cannot write into it any more. Only
/// commands Garnet and Redis 7 share: hashes, sorted sets, SET NX PX, WATCH/MULTI; no Lua, no Streams.
/// <para>
/// A write the store does not take is tried again within <see cref="SagaRecoveryOptions.WriteRetryBudget"/>: every
/// write sets the same fields to the same values, so one that went through unseen may go through again. A
/// conditional transaction that comes back "not executed" is told apart by reading the owner: another owner is a
/// conflict (the run was taken over: never retried); still this one means the store or the client aborted it — under
/// load StackExchange.Redis gives up waiting for a condition's reply after its sync timeout and reports the condition
/// unmet, which is how a loaded machine once made a purchase "pending" with the store up.
/// </para>
/// </summary>
internal sealed partial class SagaLog(GatewayStore store, SagaInputProtector protector, IOptions<SagaRecoveryOptions> options, CompositionTelemetry telemetry,
    TimeProvider time, ILogger<SagaLog> logger)
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private const string Prefix = "portico:saga:";
    private const string OpenIndex = "portico:saga-open";
    private const string LeaseKey = "portico:saga-recovery-lease";

    private const string MetaField = "meta";
    private const string OwnerField = "owner";
    private const string UpdatedField = "updated";
    private const string PhaseField = "phase";
    private const string InputField = "input";
    private const string FinalField = "final";
    private const string StepPrefix = "step:";
    private const string UndonePrefix = "undone:";

    /// <summary>
    /// The run's store key. The caller's id and the key are hashed together, so neither can collide with another
    /// user's, and no character of theirs reaches the store key.
    /// </summary>
    public static string KeyFor(string composition, string userId, string idempotencyKey)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{composition.Length}:{composition}\n{userId.Length}:{userId}\n{idempotencyKey}"));
        return Prefix + composition + ":" + Convert.ToHexStringLower(hash.AsSpan(0, 20));
    }

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Creates the run, owned by <paramref name="owner"/>: Written, or Conflict when a run with this key exists already;
    /// StoreFailed when the store did not take it (nothing was begun that anyone will carry on).
    /// </summary>
    public Task<SagaWrite> BeginAsync(string key, string composition, string fingerprint, string owner, CompositionInput input, TimeSpan retention)
    {
        var meta = JsonSerializer.Serialize(new Dictionary<string, string> { ["composition"] = composition, ["fingerprint"] = fingerprint });
        var serialized = protector.Protect(input.Serialize()); // encrypted at rest: it carries the caller's token
        return WriteWithRetriesAsync(key, owner, "begin", WriteKind.Begin, () =>
        {
            var now = Now;
            var transaction = store.Database.CreateTransaction();
            transaction.AddCondition(Condition.KeyNotExists(key));
            _ = transaction.HashSetAsync(key, [
                new(MetaField, meta), new(OwnerField, owner), new(UpdatedField, now), new(PhaseField, "running"), new(InputField, serialized)]);
            _ = transaction.KeyExpireAsync(key, retention);
            _ = transaction.SortedSetAddAsync(OpenIndex, key, now);
            return transaction;
        });
    }

    public async Task<SagaState?> LoadAsync(string key)
    {
        var entries = await store.Database.HashGetAllAsync(key);
        if (entries.Length == 0)
        {
            return null;
        }
        var fields = entries.ToDictionary(e => (string)e.Name!, e => e.Value);
        if (!fields.TryGetValue(MetaField, out var metaValue))
        {
            return null;
        }
        var meta = JsonSerializer.Deserialize<Dictionary<string, string>>((string)metaValue!)!;
        var steps = new Dictionary<string, SagaStepRecord>(StringComparer.OrdinalIgnoreCase);
        var undone = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in fields)
        {
            if (name.StartsWith(StepPrefix, StringComparison.Ordinal))
            {
                steps[name[StepPrefix.Length..]] = ReadStep((byte[])value!);
            }
            else if (name.StartsWith(UndonePrefix, StringComparison.Ordinal))
            {
                undone.Add(name[UndonePrefix.Length..]);
            }
        }
        return new SagaState(
            key,
            meta["composition"],
            meta["fingerprint"],
            (string?)fields.GetValueOrDefault(OwnerField) ?? "",
            fields.TryGetValue(UpdatedField, out var updated) && updated.TryParse(out long ms) ? ms : 0,
            (string?)fields.GetValueOrDefault(PhaseField) == "compensating",
            fields.TryGetValue(InputField, out var input) ? ReadInput(key, (byte[])input!) : null,
            steps,
            undone,
            fields.TryGetValue(FinalField, out var final) ? CompositionAnswer.Deserialize((byte[])final!) : null);
    }

    /// <summary>The captured request, or null (logged) when this instance's key ring cannot read it: such a run cannot be resumed here.</summary>
    private CompositionInput? ReadInput(string key, byte[] protectedInput)
    {
        try
        {
            return CompositionInput.Deserialize(protector.Unprotect(protectedInput));
        }
        catch (CryptographicException ex)
        {
            Log.InputUnreadable(logger, key, ex.Message);
            return null;
        }
    }

    public Task<SagaWrite> RecordStepAsync(string key, string owner, string step, SagaStepRecord record) =>
        WriteAsync(key, owner, "step " + step, [new(StepPrefix + step, WriteStep(record))]);

    public Task<SagaWrite> RecordCompensatingAsync(string key, string owner) => WriteAsync(key, owner, "compensating", [new(PhaseField, "compensating")]);

    public Task<SagaWrite> RecordUndoneAsync(string key, string owner, string step) => WriteAsync(key, owner, "undone " + step, [new(UndonePrefix + step, "done")]);

    /// <summary>Keeps the settled answer for the rest of the retention; the captured request (and its token) goes.</summary>
    public Task<SagaWrite> CompleteAsync(string key, string owner, CompositionAnswer answer, TimeSpan retention)
    {
        var final = answer.Serialize();
        return WriteWithRetriesAsync(key, owner, "complete", WriteKind.Fenced, () =>
        {
            var transaction = store.Database.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(key, OwnerField, owner));
            _ = transaction.HashSetAsync(key, [new(FinalField, final), new(PhaseField, "done"), new(UpdatedField, Now)]);
            _ = transaction.HashDeleteAsync(key, InputField);
            _ = transaction.KeyExpireAsync(key, retention);
            _ = transaction.SortedSetRemoveAsync(OpenIndex, key);
            return transaction;
        });
    }

    /// <summary>Makes <paramref name="owner"/> the run's owner, if nobody wrote to it since it was read.</summary>
    public Task<SagaWrite> TakeOverAsync(SagaState state, string owner) => WriteWithRetriesAsync(state.Key, owner, "take over", WriteKind.TakeOver, () =>
    {
        var transaction = store.Database.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(state.Key, OwnerField, state.Owner));
        transaction.AddCondition(Condition.HashEqual(state.Key, UpdatedField, state.UpdatedMs));
        transaction.AddCondition(Condition.HashNotExists(state.Key, FinalField));
        var now = Now;
        _ = transaction.HashSetAsync(state.Key, [new(OwnerField, owner), new(UpdatedField, now)]);
        _ = transaction.SortedSetAddAsync(OpenIndex, state.Key, now);
        return transaction;
    });

    /// <summary>Runs not settled whose last write is at or before <paramref name="beforeMs"/>, oldest first.</summary>
    public async Task<IReadOnlyList<string>> DueAsync(long beforeMs, int max)
    {
        var members = await store.Database.SortedSetRangeByScoreAsync(OpenIndex, double.NegativeInfinity, beforeMs, take: max);
        return [.. members.Select(m => (string)m!)];
    }

    /// <summary>Drops a run from the open set (it was settled, or its log expired).</summary>
    public Task ForgetAsync(string key) => store.Database.SortedSetRemoveAsync(OpenIndex, key);

    /// <summary>Takes the recovery lease (SET NX PX), or extends it when <paramref name="owner"/> holds it already.</summary>
    public async Task<bool> AcquireLeaseAsync(string owner, TimeSpan lease)
    {
        var db = store.Database;
        return await db.LockTakeAsync(LeaseKey, owner, lease) || await db.LockExtendAsync(LeaseKey, owner, lease);
    }

    /// <summary>Gives the lease up at once if <paramref name="owner"/> still holds it, so another instance need not wait for it to expire.</summary>
    public Task ReleaseLeaseAsync(string owner) => store.Database.LockReleaseAsync(LeaseKey, owner);

    private Task<SagaWrite> WriteAsync(string key, string owner, string what, HashEntry[] fields) => WriteWithRetriesAsync(key, owner, what, WriteKind.Fenced, () =>
    {
        var now = Now;
        var transaction = store.Database.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(key, OwnerField, owner));
        _ = transaction.HashSetAsync(key, [.. fields, new(UpdatedField, now)]);
        _ = transaction.SortedSetAddAsync(OpenIndex, key, now);
        return transaction;
    });

    /// <summary>
    /// Runs a conditional transaction that leaves the run owned by <paramref name="owner"/>, again while the store does
    /// not take it and the budget lasts. "Not executed" is settled by reading the owner: this one means the transaction
    /// went through in an earlier attempt (Written) or was aborted without a conflict (tried again); another, or none,
    /// is a conflict.
    /// </summary>
    private async Task<SagaWrite> WriteWithRetriesAsync(string key, string owner, string what, WriteKind kind, Func<ITransaction> transaction)
    {
        var budget = options.Value.WriteRetryBudget;
        var started = time.GetTimestamp();
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            string reason;
            try
            {
                if (await transaction().ExecuteAsync())
                {
                    return new SagaWrite(SagaWriteOutcome.Written, attempt, "");
                }
                var current = await store.Database.HashGetAsync(key, OwnerField);
                if (current.IsNull && kind == WriteKind.Begin)
                {
                    // Its only condition is that the key does not exist, and it does not: the transaction was aborted.
                    reason = "the transaction was not executed although the run does not exist yet (a condition's reply not awaited in time)";
                }
                else if (current == owner)
                {
                    if (kind != WriteKind.Fenced)
                    {
                        return new SagaWrite(SagaWriteOutcome.Written, attempt, "an earlier attempt went through");
                    }
                    reason = "the transaction was not executed while this instance still owns the run (a condition's reply not awaited in time, or an aborted WATCH)";
                }
                else
                {
                    var why = current.IsNull ? "the run is not in the log" : $"the run is owned by {current}";
                    if (kind != WriteKind.Begin)
                    {
                        telemetry.SagaWrite("conflict"); // a begin that finds its key is a client's retry, not a conflict
                    }
                    return new SagaWrite(SagaWriteOutcome.Conflict, attempt, why);
                }
            }
            catch (Exception ex) when (ex is RedisTimeoutException or RedisConnectionException or TimeoutException)
            {
                reason = $"{ex.GetType().Name}: {ex.Message}";
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException)
            {
                // An error no repeat mends (a server error, the connection closed as this instance stops).
                Log.WriteFailed(logger, key, what, attempt, time.GetElapsedTime(started), $"{ex.GetType().Name}: {ex.Message}");
                return new SagaWrite(SagaWriteOutcome.StoreFailed, attempt, $"{ex.GetType().Name}: {ex.Message}");
            }
            var elapsed = time.GetElapsedTime(started);
            if (elapsed + delay > budget)
            {
                telemetry.SagaWrite("failed");
                Log.WriteFailed(logger, key, what, attempt, elapsed, reason);
                return new SagaWrite(SagaWriteOutcome.StoreFailed, attempt, reason);
            }
            telemetry.SagaWrite("retried");
            Log.WriteRetried(logger, key, what, attempt, elapsed, reason);
            await Task.Delay(delay, time);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
        }
    }

    private static byte[] WriteStep(SagaStepRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("state", record.State.ToString());
            writer.WriteNumber("attempts", record.Attempts);
            writer.WriteNumber("status", record.Status);
            writer.WriteString("reason", record.Reason);
            if (record.Result is { } result)
            {
                writer.WritePropertyName("result");
                result.WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static SagaStepRecord ReadStep(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        return new SagaStepRecord(
            Enum.Parse<SagaStepState>(root.GetProperty("state").GetString()!),
            root.GetProperty("attempts").GetInt32(),
            root.GetProperty("status").GetInt32(),
            root.GetProperty("reason").GetString() ?? "",
            root.TryGetProperty("result", out var result) ? StepResult.Read(result) : null);
    }

    /// <summary>Begin creates the run, TakeOver makes this instance its owner (either may have gone through unseen); Fenced writes into a run this instance owns.</summary>
    private enum WriteKind
    {
        Begin,
        TakeOver,
        Fenced,
    }

    private static partial class Log
    {
        [LoggerMessage(440, LogLevel.Warning, "Saga {Saga}: write '{Write}' not taken by the store (attempt {Attempt}, {Elapsed} in), trying again: {Reason}")]
        public static partial void WriteRetried(ILogger logger, string saga, string write, int attempt, TimeSpan elapsed, string reason);

        [LoggerMessage(441, LogLevel.Error, "Saga {Saga}: write '{Write}' failed for a store reason after {Attempt} attempt(s) in {Elapsed}: {Reason}")]
        public static partial void WriteFailed(ILogger logger, string saga, string write, int attempt, TimeSpan elapsed, string reason);

        [LoggerMessage(445, LogLevel.Error, "Saga {Saga}: its captured request cannot be decrypted with the key ring in the store ({Reason}); the run cannot be resumed and is left as it is")]
        public static partial void InputUnreadable(ILogger logger, string saga, string reason);
    }
}

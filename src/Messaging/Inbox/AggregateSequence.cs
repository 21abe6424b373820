using Microsoft.EntityFrameworkCore;
using Portico.Data;

namespace Portico.Messaging.Inbox;

/// <summary>
/// The last event of one aggregate (e.g. an order) that one consumer applied, by the aggregate sequence the publisher
/// gave it. Written in the same transaction as the handler's effects; an event at or below it is stale.
/// </summary>
public sealed class AggregateSequence
{
    public required string Consumer { get; set; }

    public required string AggregateId { get; set; }

    /// <summary>The sequence of the last applied event; a concurrency token, so two events of one aggregate cannot both move it.</summary>
    public long LastSequence { get; set; }

    public Guid LastMessageId { get; set; }

    public DateTimeOffset AppliedAt { get; set; }
}

/// <summary>What a consumer should do with a delivered message.</summary>
public enum MessageDisposition
{
    /// <summary>New, and not older than what was applied for its aggregate: apply its effects.</summary>
    Apply,

    /// <summary>This consumer handled this message id before (a redelivery): do nothing.</summary>
    Duplicate,

    /// <summary>An event of its aggregate with this or a later sequence was applied already: ignore it.</summary>
    Stale,
}

/// <summary>
/// A later event of the aggregate is needed first: the consumer waits for earlier events and this one is missing some.
/// Thrown so that the dispatcher retries the message later (with backoff); the earlier event arrives meanwhile.
/// </summary>
public sealed class EarlierEventMissingException(string aggregateId, long sequence, long lastApplied)
    : Exception($"Event {sequence} of aggregate '{aggregateId}' arrived before event {lastApplied + 1}; it will be tried again.");

/// <summary>What <see cref="InOrderDbContextExtensions.CheckInOrderAsync"/> decided, to record with the effects.</summary>
public sealed record InOrderCheck(MessageDisposition Disposition, long? LastApplied);

public static class AggregateSequenceModelBuilderExtensions
{
    /// <summary>Adds the table of last applied sequences (<c>AggregateSequences</c>, keyed by consumer and aggregate id).</summary>
    public static ModelBuilder AddAggregateSequences(this ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        var sequence = modelBuilder.Entity<AggregateSequence>();
        sequence.ToTable("AggregateSequences");
        sequence.HasKey(s => new { s.Consumer, s.AggregateId });
        sequence.Property(s => s.Consumer).HasMaxLength(InboxMessage.MaxConsumerLength);
        sequence.Property(s => s.AggregateId).HasMaxLength(200);
        sequence.Property(s => s.LastSequence).IsConcurrencyToken();
        return modelBuilder;
    }
}

/// <summary>
/// The inbox with order: a message is applied once (inbox) and only if it is newer than the last event of its aggregate
/// this consumer applied (<see cref="AggregateSequence"/>). Messages without an aggregate id and sequence are checked
/// by the inbox alone. The model needs <c>AddInbox()</c> and <c>AddAggregateSequences()</c>.
/// </summary>
public static class InOrderDbContextExtensions
{
    private const int MaxConflictRetries = 3;

    /// <summary>
    /// Runs <paramref name="effects"/> (changes to tracked entities of <paramref name="db"/>) and records the message in the
    /// inbox and its aggregate's last sequence, saved in one transaction, unless the message is a duplicate or stale. With
    /// <paramref name="waitForEarlier"/>, a message that skips sequences (its aggregate's earlier events not applied yet)
    /// throws <see cref="EarlierEventMissingException"/> so it is retried later: use it when the consumer subscribes to
    /// every event type of the aggregate. Without it (a consumer of some of an aggregate's events), gaps are expected.
    /// Two events of one aggregate racing cannot both commit (the key and the concurrency token stop the second), and the
    /// loser is checked again.
    /// </summary>
    public static async Task<MessageDisposition> ProcessInOrderAsync(
        this DbContext db, MessageContext context, string consumer, Func<CancellationToken, Task> effects, TimeProvider timeProvider,
        CancellationToken cancellationToken, bool waitForEarlier = false)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(effects);
        var ownsTransaction = db.Database.CurrentTransaction is null;
        for (var attempt = 1; ; attempt++)
        {
            // Check and write in one transaction: on SQLite it holds the write lock from the start, so nothing interleaves.
            await using var transaction = ownsTransaction ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
            var check = await db.CheckInOrderAsync(context, consumer, cancellationToken, waitForEarlier);
            if (check.Disposition == MessageDisposition.Duplicate)
            {
                return check.Disposition;
            }
            if (check.Disposition == MessageDisposition.Apply)
            {
                await effects(cancellationToken);
            }
            db.RecordInOrder(context, consumer, check, timeProvider);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                if (transaction is not null)
                {
                    await transaction.CommitAsync(cancellationToken);
                }
                return check.Disposition;
            }
            catch (DbUpdateException e) when (ownsTransaction && attempt < MaxConflictRetries && IsConflict(e))
            {
                // Another delivery of this message, or another event of this aggregate, committed first: look again.
                db.ChangeTracker.Clear();
            }
        }
    }

    /// <summary>
    /// Decides, inside the caller's transaction, whether to apply the message; <see cref="RecordInOrder"/> then tracks the
    /// rows that record the decision, saved by the caller with its effects. For a consumer that manages its own transaction.
    /// </summary>
    public static async Task<InOrderCheck> CheckInOrderAsync(this DbContext db, MessageContext context, string consumer, CancellationToken cancellationToken, bool waitForEarlier = false)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(context);
        var envelope = context.Envelope;
        var messageId = envelope.MessageId;
        if (await db.Set<InboxMessage>().AsNoTracking().AnyAsync(m => m.MessageId == messageId && m.Consumer == consumer, cancellationToken))
        {
            return new InOrderCheck(MessageDisposition.Duplicate, null);
        }
        if (envelope.AggregateId is not { } aggregateId || envelope.AggregateSequence is not { } sequence)
        {
            return new InOrderCheck(MessageDisposition.Apply, null);
        }
        var last = await db.Set<AggregateSequence>().AsNoTracking()
            .Where(s => s.Consumer == consumer && s.AggregateId == aggregateId)
            .Select(s => (long?)s.LastSequence)
            .SingleOrDefaultAsync(cancellationToken);
        if (sequence <= (last ?? 0))
        {
            return new InOrderCheck(MessageDisposition.Stale, last);
        }
        if (waitForEarlier && sequence > (last ?? 0) + 1)
        {
            throw new EarlierEventMissingException(aggregateId, sequence, last ?? 0);
        }
        return new InOrderCheck(MessageDisposition.Apply, last);
    }

    /// <summary>
    /// Tracks the inbox row (for an applied or stale message) and, for an applied one, the aggregate's new last sequence,
    /// conditional on the value <paramref name="check"/> saw. Saving fails with a unique or concurrency violation when a
    /// racing transaction got there first (see <see cref="IsConflict"/>).
    /// </summary>
    public static void RecordInOrder(this DbContext db, MessageContext context, string consumer, InOrderCheck check, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(check);
        ArgumentNullException.ThrowIfNull(timeProvider);
        if (check.Disposition == MessageDisposition.Duplicate)
        {
            return;
        }
        var envelope = context.Envelope;
        var now = timeProvider.GetUtcNow();
        db.Set<InboxMessage>().Add(new InboxMessage { MessageId = envelope.MessageId, Consumer = consumer, MessageType = envelope.MessageType, ProcessedAt = now });
        if (check.Disposition != MessageDisposition.Apply || envelope.AggregateId is not { } aggregateId || envelope.AggregateSequence is not { } sequence)
        {
            return;
        }
        var sequences = db.Set<AggregateSequence>();
        if (check.LastApplied is not { } last)
        {
            sequences.Add(new AggregateSequence { Consumer = consumer, AggregateId = aggregateId, LastSequence = sequence, LastMessageId = envelope.MessageId, AppliedAt = now });
            return;
        }
        // UPDATE … WHERE LastSequence = <what the check saw>: a racing event of the same aggregate makes it match nothing.
        var row = new AggregateSequence { Consumer = consumer, AggregateId = aggregateId, LastSequence = last };
        sequences.Attach(row);
        row.LastSequence = sequence;
        row.LastMessageId = envelope.MessageId;
        row.AppliedAt = now;
    }

    /// <summary>Whether saving failed because a racing transaction wrote the same inbox row or moved the same sequence.</summary>
    public static bool IsConflict(DbUpdateException e) =>
        e is DbUpdateConcurrencyException || ServiceDatabase.IsUniqueViolation(e);
}

using Microsoft.EntityFrameworkCore;
using Portico.Data;

namespace Portico.Messaging.Inbox;

/// <summary>A message a consumer has handled, written in the same transaction as the handler's effects.</summary>
public sealed class InboxMessage
{
    public const int MaxConsumerLength = 200;

    public Guid MessageId { get; set; }

    /// <summary>Which handler processed it: one message may have effects in several handlers of one service.</summary>
    public required string Consumer { get; set; }

    public required string MessageType { get; set; }

    public DateTimeOffset ProcessedAt { get; set; }
}

public static class InboxModelBuilderExtensions
{
    /// <summary>Adds the inbox table (<c>InboxMessages</c>, keyed by message id and consumer) to a service's model.</summary>
    public static ModelBuilder AddInbox(this ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        var inbox = modelBuilder.Entity<InboxMessage>();
        inbox.ToTable("InboxMessages");
        inbox.HasKey(m => new { m.MessageId, m.Consumer });
        inbox.Property(m => m.Consumer).HasMaxLength(InboxMessage.MaxConsumerLength);
        inbox.Property(m => m.MessageType).HasMaxLength(200);
        inbox.HasIndex(m => m.ProcessedAt);
        return modelBuilder;
    }
}

public static class InboxDbContextExtensions
{
    /// <summary>
    /// Runs <paramref name="effects"/> (which change tracked entities of <paramref name="db"/>) and records the message
    /// in the inbox, saved in one transaction, unless this consumer has processed the message before. Returns whether
    /// the effects were saved. Two deliveries of one message racing each other cannot both save: the inbox key is the
    /// message id and consumer, so the second transaction fails and is treated as a duplicate.
    /// </summary>
    public static async Task<bool> ProcessOnceAsync(
        this DbContext db, MessageContext context, string consumer, Func<CancellationToken, Task> effects, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(effects);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var messageId = context.Envelope.MessageId;
        var inbox = db.Set<InboxMessage>();
        if (await inbox.AsNoTracking().AnyAsync(m => m.MessageId == messageId && m.Consumer == consumer, cancellationToken))
        {
            return false;
        }
        await effects(cancellationToken);
        inbox.Add(new InboxMessage
        {
            MessageId = messageId,
            Consumer = consumer,
            MessageType = context.Envelope.MessageType,
            ProcessedAt = timeProvider.GetUtcNow(),
        });
        try
        {
            // One SaveChanges is one transaction: the effects and the inbox row together or not at all.
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException e) when (ServiceDatabase.IsUniqueViolation(e))
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }
}

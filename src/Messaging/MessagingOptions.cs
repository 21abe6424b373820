using Microsoft.Extensions.Options;

namespace Portico.Messaging;

/// <summary>Settings of the messaging building block, bound from the <c>Messaging</c> section.</summary>
/// <remarks>
/// The transport is chosen by connection string, not here: <c>ConnectionStrings:broker</c> with an <c>amqp://</c> or
/// <c>amqps://</c> URI selects RabbitMQ; otherwise the Redis-protocol store (<c>ConnectionStrings:broker</c> as a
/// StackExchange.Redis string, else <c>ConnectionStrings:store</c>).
/// </remarks>
public sealed record MessagingOptions
{
    public const string SectionName = "Messaging";

    /// <summary>This service's own queue, subscribed to the events it handles (e.g. <c>catalog</c>).</summary>
    public string? Queue { get; init; }

    /// <summary>Handling attempts before a message is dead-lettered (1 means no retry).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>Delay before the first retry; each further retry doubles it up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Deliveries handled at once per consumed queue (RabbitMQ's prefetch).</summary>
    public int Concurrency { get; init; } = 8;

    /// <summary>Redis protocol: how long a consumer may miss its heartbeat before its unacknowledged messages go back to the queue.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Redis protocol: how often an idle consumer looks for work it was not woken for, and due retries are moved back.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Keeps systems that share a broker apart: the prefix of every Redis key (<c>{Namespace}:q:{queue}</c>) and of
    /// RabbitMQ's exchanges (<c>{Namespace}.events</c>, <c>{Namespace}.dead-letter</c>). Queue names are not prefixed.
    /// </summary>
    public string Namespace { get; init; } = "portico";

    /// <summary>The delay before retrying after failed attempt <paramref name="attempt"/> (from 1).</summary>
    public TimeSpan RetryDelay(int attempt)
    {
        var factor = Math.Pow(2, Math.Clamp(attempt - 1, 0, 30));
        var ticks = Math.Min(RetryInitialDelay.Ticks * factor, RetryMaxDelay.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>Checks <see cref="MessagingOptions"/> at start-up and reports every problem at once.</summary>
/// <remarks>The broker's connection strings are checked here too, so that start-up lists their errors with the rest.</remarks>
internal sealed class MessagingOptionsValidator(IOptions<BrokerConnectionOptions> broker, MessageTypeRegistry registry) : IValidateOptions<MessagingOptions>
{
    public ValidateOptionsResult Validate(string? name, MessagingOptions options)
    {
        var errors = new List<string>();
        var connection = broker.Value;
        if (connection.IsRabbitMq && !Uri.TryCreate(connection.Broker, UriKind.Absolute, out _))
        {
            errors.Add($"ConnectionStrings:broker is not a valid amqp URI: '{connection.Broker}'.");
        }
        else if (!connection.IsConfigured && registry.Queues.Any())
        {
            // A service that only publishes through an outbox may start without one; a consumer may not.
            errors.Add("Messaging needs a broker to consume: set ConnectionStrings:broker (an amqp:// URI for RabbitMQ, or a Redis-protocol address) or ConnectionStrings:store.");
        }
        if (options.Queue is not null && !QueueNames.IsValid(options.Queue))
        {
            errors.Add($"Messaging:Queue must be 1 to 200 letters, digits, '.', '-' or '_', not '{options.Queue}'.");
        }
        if (options.MaxAttempts is < 1 or > 100)
        {
            errors.Add($"Messaging:MaxAttempts must be from 1 to 100, not {options.MaxAttempts}.");
        }
        if (options.RetryInitialDelay <= TimeSpan.Zero || options.RetryInitialDelay > TimeSpan.FromHours(1))
        {
            errors.Add($"Messaging:RetryInitialDelay must be above zero and at most 01:00:00, not {options.RetryInitialDelay}.");
        }
        if (options.RetryMaxDelay < options.RetryInitialDelay || options.RetryMaxDelay > TimeSpan.FromDays(1))
        {
            errors.Add($"Messaging:RetryMaxDelay must be from RetryInitialDelay to 1.00:00:00, not {options.RetryMaxDelay}.");
        }
        if (options.Concurrency is < 1 or > 1000)
        {
            errors.Add($"Messaging:Concurrency must be from 1 to 1000, not {options.Concurrency}.");
        }
        if (options.VisibilityTimeout < TimeSpan.FromMilliseconds(100) || options.VisibilityTimeout > TimeSpan.FromHours(12))
        {
            errors.Add($"Messaging:VisibilityTimeout must be from 00:00:00.1 to 12:00:00, not {options.VisibilityTimeout}.");
        }
        if (options.PollInterval < TimeSpan.FromMilliseconds(10) || options.PollInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"Messaging:PollInterval must be from 00:00:00.01 to 00:01:00, not {options.PollInterval}.");
        }
        if (!QueueNames.IsValid(options.Namespace))
        {
            errors.Add($"Messaging:Namespace must be 1 to 200 letters, digits, '.', '-' or '_', not '{options.Namespace}'.");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

internal static class QueueNames
{
    public static bool IsValid(string name) =>
        name.Length is > 0 and <= 200 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');
}

using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Portico.Messaging.Transport;

namespace Portico.Messaging;

/// <summary>
/// Turns a delivery into a handler call and settles it: complete when the handler returns; retry with increasing delay
/// when it throws; dead-letter after the last attempt, or at once when the message cannot be handled at all (unknown
/// type, a body that does not parse). A delivery interrupted by shutdown is left unsettled, so the broker gives it to
/// another consumer.
/// </summary>
internal sealed partial class MessageDispatcher(
    IServiceScopeFactory scopeFactory, MessageTypeRegistry registry, IOptions<MessagingOptions> options, MessagingMetrics metrics,
    TimeProvider timeProvider, ILogger<MessageDispatcher> logger)
{
    public async Task DispatchAsync(string queue, IncomingMessage message, CancellationToken stoppingToken)
    {
        var envelope = message.Envelope;
        using var activity = MessagingTelemetry.ActivitySource.StartActivity(
            $"process {queue}", ActivityKind.Consumer, envelope.TraceParent is { } parent && ActivityContext.TryParse(parent, null, out var context) ? context : default);
        activity?.SetTag("messaging.message.id", envelope.MessageId.ToString());
        activity?.SetTag("messaging.message.type", envelope.MessageType);

        var invoker = registry.Find(queue, envelope.MessageType);
        if (invoker is null)
        {
            Log.NoHandler(logger, envelope.MessageType, queue, envelope.MessageId);
            await message.DeadLetterAsync($"No handler of {envelope.MessageType} on queue '{queue}'.", stoppingToken);
            metrics.Handled(queue, envelope.MessageType, MessagingMetrics.Outcomes.DeadLettered, TimeSpan.Zero);
            return;
        }

        var started = timeProvider.GetTimestamp();
        try
        {
            await using var scope = scopeFactory.CreateAsyncScope();
            await invoker(scope.ServiceProvider, message.Body, new MessageContext(envelope, queue), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Not a failure of the message: it stays unacknowledged and comes back to another consumer.
            Log.Interrupted(logger, envelope.MessageType, envelope.MessageId);
            throw;
        }
        catch (Exception e) when (e is MessageFormatException or System.Text.Json.JsonException)
        {
            Log.Poison(logger, e, envelope.MessageType, envelope.MessageId);
            await message.DeadLetterAsync(Describe(e), stoppingToken);
            metrics.Handled(queue, envelope.MessageType, MessagingMetrics.Outcomes.DeadLettered, timeProvider.GetElapsedTime(started));
            return;
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            var o = options.Value;
            if (envelope.Attempt >= o.MaxAttempts)
            {
                Log.DeadLettered(logger, e, envelope.MessageType, envelope.MessageId, envelope.Attempt);
                await message.DeadLetterAsync(Describe(e), stoppingToken);
                metrics.Handled(queue, envelope.MessageType, MessagingMetrics.Outcomes.DeadLettered, timeProvider.GetElapsedTime(started));
            }
            else
            {
                var delay = o.RetryDelay(envelope.Attempt);
                Log.Retrying(logger, e, envelope.MessageType, envelope.MessageId, envelope.Attempt, delay);
                await message.RetryAsync(delay, Describe(e), stoppingToken);
                metrics.Handled(queue, envelope.MessageType, MessagingMetrics.Outcomes.Retried, timeProvider.GetElapsedTime(started));
            }
            return;
        }
        await message.CompleteAsync(stoppingToken);
        metrics.Handled(queue, envelope.MessageType, MessagingMetrics.Outcomes.Completed, timeProvider.GetElapsedTime(started));
    }

    private static string Describe(Exception e) => $"{e.GetType().FullName}: {e.Message}";

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Handling {MessageType} {MessageId} failed on attempt {Attempt}; retrying in {Delay}")]
        public static partial void Retrying(ILogger logger, Exception exception, string messageType, Guid messageId, int attempt, TimeSpan delay);

        [LoggerMessage(2, LogLevel.Error, "Handling {MessageType} {MessageId} failed on its last attempt {Attempt}; dead-lettered")]
        public static partial void DeadLettered(ILogger logger, Exception exception, string messageType, Guid messageId, int attempt);

        [LoggerMessage(3, LogLevel.Error, "{MessageType} {MessageId} cannot be read; dead-lettered without retry")]
        public static partial void Poison(ILogger logger, Exception exception, string messageType, Guid messageId);

        [LoggerMessage(4, LogLevel.Error, "No handler of {MessageType} on queue {Queue}; message {MessageId} dead-lettered")]
        public static partial void NoHandler(ILogger logger, string messageType, string queue, Guid messageId);

        [LoggerMessage(5, LogLevel.Information, "Handling {MessageType} {MessageId} was interrupted by shutdown; it will be delivered again")]
        public static partial void Interrupted(ILogger logger, string messageType, Guid messageId);
    }
}

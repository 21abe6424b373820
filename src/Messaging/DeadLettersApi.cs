using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Portico.Messaging;
using Portico.Messaging.Transport;

namespace Microsoft.AspNetCore.Builder;

/// <summary>
/// The dead letters of a service's queues, for operators: <c>GET {prefix}/{queue}?count=</c> lists the oldest with
/// their error and attempt count; <c>POST {prefix}/{queue}/replay?count=</c> moves them back to the queue with the
/// attempt count reset. The caller secures the returned group (e.g. <c>.RequireAuthorization(adminPolicy)</c>).
/// </summary>
public static class DeadLettersApi
{
    public const int MaxCount = 1000;

    public static RouteGroupBuilder MapDeadLetters(this IEndpointRouteBuilder endpoints, string prefix = "/admin/messaging/dead-letters")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup(prefix).WithTags("Messaging");
        group.MapGet("/{queue}", ListAsync).WithName("ListDeadLetters");
        group.MapPost("/{queue}/replay", ReplayAsync).WithName("ReplayDeadLetters");
        return group;
    }

    internal static async Task<Results<Ok<DeadLetterResponse[]>, ProblemHttpResult>> ListAsync(
        string queue, int? count, IMessageTransport transport, CancellationToken cancellationToken)
    {
        if (Validate(queue, count) is { } problem)
        {
            return problem;
        }
        var letters = await transport.PeekDeadLettersAsync(queue, count ?? 100, cancellationToken);
        return TypedResults.Ok(letters.Select(DeadLetterResponse.From).ToArray());
    }

    internal static async Task<Results<Ok<ReplayResponse>, ProblemHttpResult>> ReplayAsync(
        string queue, int? count, IMessageTransport transport, CancellationToken cancellationToken)
    {
        if (Validate(queue, count) is { } problem)
        {
            return problem;
        }
        return TypedResults.Ok(new ReplayResponse(await transport.ReplayDeadLettersAsync(queue, count ?? 100, cancellationToken)));
    }

    private static ProblemHttpResult? Validate(string queue, int? count)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!QueueNames.IsValid(queue))
        {
            errors["queue"] = ["A queue name is 1 to 200 letters, digits, '.', '-' or '_'."];
        }
        if (count is < 1 or > MaxCount)
        {
            errors["count"] = [$"count must be from 1 to {MaxCount}."];
        }
        return errors.Count == 0 ? null : TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = StatusCodes.Status400BadRequest });
    }

    public sealed record DeadLetterResponse(
        Guid MessageId, string MessageType, int Attempts, string Error, DateTimeOffset SentAt, DateTimeOffset DeadLetteredAt, string? CorrelationId, string Body)
    {
        internal static DeadLetterResponse From(DeadLetter letter) => new(
            letter.Envelope.MessageId, letter.Envelope.MessageType, letter.Envelope.Attempt, letter.Error, letter.Envelope.SentAt,
            letter.DeadLetteredAt, letter.Envelope.CorrelationId, Encoding.UTF8.GetString(letter.Body.Span));
    }

    public sealed record ReplayResponse(int Replayed);
}

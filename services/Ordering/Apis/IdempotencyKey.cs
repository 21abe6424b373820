using Portico.ServiceDefaults.Http;

namespace Portico.Ordering.Apis;

/// <summary>The <c>Idempotency-Key</c> request header: 1 to <see cref="MaxLength"/> printable ASCII characters.</summary>
public static class IdempotencyKey
{
    public const string HeaderName = IdempotencyKeys.HeaderName;
    public const int MaxLength = IdempotencyKeys.MaxLength; // the one limit the gateway applies too

    /// <summary>Set on an answer that repeats an earlier one instead of placing an order.</summary>
    public const string ReplayedHeaderName = "Idempotent-Replayed";

    /// <summary>The key (null when the header is absent), or the problem to answer when it is malformed.</summary>
    public static (string? Key, IResult? Problem) Read(HttpRequest request)
    {
        if (!request.Headers.TryGetValue(HeaderName, out var values))
        {
            return (null, null);
        }
        if (values.Count != 1)
        {
            return (null, Invalid($"Send one {HeaderName} header with one value."));
        }
        var key = values[0] ?? "";
        if (!IdempotencyKeys.IsValid(key))
        {
            return (null, Invalid($"{HeaderName} must be {IdempotencyKeys.Rule}."));
        }
        return (key, null);
    }

    private static IResult Invalid(string message) => TypedResults.ValidationProblem(
        new Dictionary<string, string[]> { [HeaderName] = [message] },
        detail: $"Invalid header: {HeaderName}.",
        title: "Invalid Idempotency-Key");
}

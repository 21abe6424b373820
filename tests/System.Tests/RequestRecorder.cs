using System.Collections.Concurrent;

namespace Portico.SystemTests;

/// <summary>One request a system test sent through the gateway, and the status it was answered with.</summary>
public sealed record RecordedRequest(string Test, string Method, string Path, string Query, IReadOnlySet<string> Headers, string? ContentType, string? Body, int Status);

/// <summary>
/// The gateway client's outermost handler: records every request the system tests send through the gateway (method,
/// path, query, header names, content type and body), for <see cref="OpenApiConformanceSystemTests"/> to check against
/// the merged OpenAPI document.
/// </summary>
public sealed class RequestRecorder() : DelegatingHandler(new SocketsHttpHandler())
{
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();

    public IReadOnlyCollection<RecordedRequest> Requests => _requests;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string? body = null;
        if (request.Content is { } content)
        {
            // Buffered, so it is still there to send.
            await content.LoadIntoBufferAsync(cancellationToken);
            body = await content.ReadAsStringAsync(cancellationToken);
        }
        var response = await base.SendAsync(request, cancellationToken);
        var uri = request.RequestUri!;
        var headers = new HashSet<string>(request.Headers.Select(h => h.Key), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new RecordedRequest(
            TestContext.Current.Test?.TestDisplayName ?? "(fixture)", request.Method.Method, uri.AbsolutePath, uri.Query, headers,
            request.Content?.Headers.ContentType?.MediaType, body, (int)response.StatusCode));
        return response;
    }
}

using Microsoft.AspNetCore.Http;

namespace Portico.Gateway.Routing;

/// <summary>Reading a body the gateway itself consumes (compositions, transcoding), never more than a bound.</summary>
internal static class BoundedBody
{
    /// <summary>The client's body, or null as soon as it passes <paramref name="maxBytes"/> (declared or sent).</summary>
    public static async Task<byte[]?> ReadRequestAsync(HttpContext context, long maxBytes)
    {
        if (context.Request.ContentLength > maxBytes)
        {
            return null;
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[8 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    public const int MaxBytes = 4 * 1024 * 1024;

    public static async Task<byte[]> ReadAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                throw new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, $"The answer is larger than the {MaxBytes} bytes the gateway reads.");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}

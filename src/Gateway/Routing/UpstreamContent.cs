namespace Portico.Gateway.Routing;

/// <summary>Reading an answer the gateway itself consumes (compositions, transcoding), never more than a bound.</summary>
internal static class UpstreamContent
{
    public const int MaxBytes = 4 * 1024 * 1024;

    public static async Task<byte[]> ReadLimitedAsync(HttpContent content, CancellationToken cancellationToken)
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

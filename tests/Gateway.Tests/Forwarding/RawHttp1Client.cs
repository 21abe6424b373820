using System.Net.Sockets;
using System.Text;

namespace Portico.Gateway.Tests;

/// <summary>Writes raw bytes to an HTTP/1.1 endpoint and reads until it closes the connection (the requests ask it to).</summary>
internal static class RawHttp1Client
{
    /// <summary>Everything the server wrote, as Latin-1 so each byte shows; what arrived before a reset counts.</summary>
    public static async Task<string> ExchangeAsync(Uri server, byte[] request, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, cancellationToken);
        var stream = tcp.GetStream();
        await stream.WriteAsync(request, cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer, timeout.Token);
        }
        catch (IOException)
        {
            // Reset after the answer: what arrived is what counts.
        }
        return Encoding.Latin1.GetString(answer.ToArray());
    }
}

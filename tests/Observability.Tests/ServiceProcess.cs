using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Portico.Observability.Tests;

/// <summary>
/// One Portico .NET process as built (<c>dotnet Portico.X.dll</c> from its own output folder, so its own appsettings
/// apply), with the environment it is given and every line of its stdout and stderr kept. The address is read from
/// its "Now listening on" line, so it can bind port 0.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly Process _process;

    private ServiceProcess(string name, Process process, ConcurrentQueue<string> lines)
    {
        Name = name;
        _process = process;
        Lines = lines;
    }

    public string Name { get; }

    /// <summary>Every line written to stdout and stderr so far.</summary>
    public ConcurrentQueue<string> Lines { get; }

    public Uri Address { get; private set; } = null!;

    /// <param name="project">The project folder, e.g. <c>services/Catalog</c>.</param>
    /// <param name="assembly">The entry assembly, e.g. <c>Portico.Catalog</c>.</param>
    /// <param name="address">For a process with several endpoints: the one to wait for and call; else the first it listens on.</param>
    public static async Task<ServiceProcess> StartAsync(string name, string project, string assembly, IReadOnlyDictionary<string, string> environment, CancellationToken cancel, Uri? address = null)
    {
        // Built for this configuration beside this test's own output (bin/<Configuration>/<tfm>).
        var build = Path.GetRelativePath(Repo.PathOf("tests/Observability.Tests"), AppContext.BaseDirectory);
        var directory = Path.GetFullPath(Path.Combine(Repo.PathOf(project), build));
        var start = new ProcessStartInfo("dotnet", Path.Combine(directory, assembly + ".dll"))
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("OTEL_", StringComparison.Ordinal) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var lines = new ConcurrentQueue<string>();
        var process = Process.Start(start)!;
        DataReceivedEventHandler keep = (_, e) =>
        {
            if (!string.IsNullOrEmpty(e.Data))
            {
                lines.Enqueue(e.Data);
            }
        };
        process.OutputDataReceived += keep;
        process.ErrorDataReceived += keep;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var service = new ServiceProcess(name, process, lines);
        try
        {
            var listening = await Poll.UntilAsync(() => process.HasExited
                ? throw new InvalidOperationException($"{name} exited with {process.ExitCode}:\n{string.Join('\n', lines.TakeLast(40))}")
                : lines.Select(ListeningOn).FirstOrDefault(a => a is not null && (address is null || a == address)), StartTimeout, $"{name} to listen", cancel);
            service.Address = listening;
            return service;
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
    }

    /// <summary>The address in a "Now listening on: http://…" line, whether written as ECS JSON or plain text.</summary>
    private static Uri? ListeningOn(string line)
    {
        var message = line;
        if (line.StartsWith('{'))
        {
            try
            {
                using var json = JsonDocument.Parse(line);
                message = json.RootElement.TryGetProperty("message", out var m) ? m.GetString() ?? "" : "";
            }
            catch (JsonException)
            {
                return null;
            }
        }
        const string Prefix = "Now listening on: ";
        var at = message.IndexOf(Prefix, StringComparison.Ordinal);
        return at < 0 ? null : new Uri(message[(at + Prefix.Length)..].Trim().TrimEnd('/') + "/");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

internal static class Poll
{
    /// <summary>Asks again every 50 ms until <paramref name="find"/> answers, failing after <paramref name="timeout"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<T?> find, TimeSpan timeout, string what, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (find() is { } found)
            {
                return found;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}");
            }
            await Task.Delay(50, cancel);
        }
    }

    /// <summary>As <see cref="UntilAsync{T}(Func{T}, TimeSpan, string, CancellationToken)"/>, asking asynchronously; a timeout shows the last lines of <paramref name="output"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> find, TimeSpan timeout, string what, IEnumerable<string> output, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await find() is { } found)
            {
                return found;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}; last output:\n{string.Join('\n', output.TakeLast(20))}");
            }
            await Task.Delay(200, cancel);
        }
    }
}

using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;
using System.Text.Unicode;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Portico.Gateway.Telemetry;

/// <summary>
/// <c>Portico:AccessLog</c>: an access log file written in batches, as nginx's <c>access_log … buffer= flush=</c>
/// does. Without a path the access log goes only through logging (the <c>Portico.AccessLog</c> category).
/// </summary>
public sealed record AccessLogOptions
{
    public const string SectionName = "Portico:AccessLog";

    /// <summary>The file lines are appended to (created when missing); <c>/dev/stdout</c> works too. Empty: no file.</summary>
    public string? Path { get; init; }

    /// <summary>Lines are collected up to this many bytes before one write.</summary>
    [Range(16 * 1024, 16 * 1024 * 1024)]
    public int BufferBytes { get; init; } = 64 * 1024;

    /// <summary>A partly filled buffer is written after at most this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Before the file grows past this many bytes it is renamed <c>Path.1</c> (an older <c>Path.1</c> becomes
    /// <c>Path.2</c>, and so on) and a new file is started, so that the log cannot fill the disk.
    /// </summary>
    [Range(1024 * 1024, long.MaxValue)]
    public long MaxFileBytes { get; init; } = 100 * 1024 * 1024;

    /// <summary>How many rotated files are kept beside the current one; the oldest beyond that is deleted.</summary>
    [Range(1, 1000)]
    public int RetainedFiles { get; init; } = 5;
}

/// <summary>Checks <c>Portico:AccessLog</c> at start from the DataAnnotations above.</summary>
[OptionsValidator]
internal sealed partial class AccessLogOptionsValidator : IValidateOptions<AccessLogOptions>;

/// <summary>
/// The batched access log file. A request formats its line as UTF-8 straight into the current buffer (under a
/// lock held for the copy, no allocation); a full buffer, or a partly full one every <see cref="AccessLogOptions.FlushInterval"/>,
/// is handed to one background writer, so no request waits for the disk.
/// </summary>
internal sealed partial class AccessLogFile : IHostedService, IAsyncDisposable
{
    /// <summary>Paths are cut to this many characters in the log, so that any line fits an empty buffer.</summary>
    private const int MaxPathChars = 2048;

    private const int MaxPendingBuffers = 64;

    private static readonly SearchValues<char> PlainPathChars =
        SearchValues.Create("!#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private readonly AccessLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<AccessLogFile> _logger;
    private readonly Lock _gate = new();
    // Bounded, so that a stalled disk costs at most this many buffers of memory; past that, lines are dropped.
    private readonly Channel<(byte[] Buffer, int Length)> _full = Channel.CreateBounded<(byte[], int)>(
        new BoundedChannelOptions(MaxPendingBuffers) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly byte[] _secondText = new byte["yyyy-MM-ddTHH:mm:ss".Length];
    private long _second = -1;
    private byte[] _buffer;
    private int _length;
    // Null until started and once closed: Write checks it under the lock. The writer may have rotated it away.
    private Stream? _file;
    private ITimer? _timer;
    private Task<Stream> _writer = Task.FromResult(Stream.Null);

    public AccessLogFile(IOptions<AccessLogOptions> options, TimeProvider time, ILogger<AccessLogFile> logger)
    {
        _options = options.Value;
        Enabled = !string.IsNullOrWhiteSpace(_options.Path);
        _time = time;
        _logger = logger;
        _buffer = ArrayPool<byte>.Shared.Rent(_options.BufferBytes);
    }

    public bool Enabled { get; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Enabled)
        {
            var path = _options.Path!;
            // Opened at start so that a path the gateway cannot write stops it at once, not at the first request.
            _file = path == "/dev/stdout" ? Console.OpenStandardOutput() : Open(path);
            _writer = WriteLoopAsync(_file);
            _timer = _time.CreateTimer(static state => ((AccessLogFile)state!).Flush(), this, _options.FlushInterval, _options.FlushInterval);
        }
        return Task.CompletedTask;
    }

    /// <summary>Hands over what is buffered; the file closes when the host is disposed, after the last request.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        Flush();
        return Task.CompletedTask;
    }

    /// <summary>Appends one line: UTC time, method, path (escaped, never the query), status, protocol, route, duration, request id.</summary>
    public void Write(string method, string? path, int status, string protocol, string? route, double elapsedMs, string requestId)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        path ??= "";
        var cut = path.Length > MaxPathChars;
        var pathPart = cut ? path.AsSpan(0, MaxPathChars) : path.AsSpan();
        lock (_gate)
        {
            if (_file is null)
            {
                return;
            }
            for (var attempt = 0; ; attempt++)
            {
                var span = _buffer.AsSpan(_length, _options.BufferBytes - _length);
                if (TryFormat(span, now, method, pathPart, cut, status, protocol, route, elapsedMs, requestId, out var written))
                {
                    _length += written;
                    return;
                }
                if (attempt == 1)
                {
                    return; // cannot happen with the bounded path; never let a log line fail a request
                }
                HandOffLocked();
            }
        }
    }

    /// <summary>Called under the lock: the time down to the second is formatted once per second, not per line.</summary>
    private bool TryFormat(Span<byte> span, DateTime now, string method, ReadOnlySpan<char> path, bool cut, int status,
        string protocol, string? route, double elapsedMs, string requestId, out int written)
    {
        written = 0;
        var second = now.Ticks / TimeSpan.TicksPerSecond;
        if (second != _second)
        {
            _second = second;
            Utf8.TryWrite(_secondText, CultureInfo.InvariantCulture, $"{now:yyyy-MM-ddTHH:mm:ss}", out _);
        }
        var micros = (long)(elapsedMs * 1000);
        if (span.Length < _secondText.Length || !_secondText.AsSpan().TryCopyTo(span)
            || !Utf8.TryWrite(span[_secondText.Length..], CultureInfo.InvariantCulture, $".{now.Millisecond:D3}Z {method} ", out var head))
        {
            return false;
        }
        var at = _secondText.Length + head;
        if (!TryWriteEscaped(span[at..], path, out var pathBytes))
        {
            return false;
        }
        at += pathBytes;
        if (!Utf8.TryWrite(span[at..], CultureInfo.InvariantCulture,
                $"{(cut ? "..." : "")} {status} {protocol} route={route ?? "-"} {micros / 1000}.{micros % 1000:D3}ms id={requestId}\n", out var tail))
        {
            return false;
        }
        written = at + tail;
        return true;
    }

    /// <summary>
    /// The decoded path as UTF-8 with control characters, spaces, quotes and backslashes as <c>\xHH</c>: a path
    /// like <c>/a%0Afake-line</c> must not start a line of its own.
    /// </summary>
    private static bool TryWriteEscaped(Span<byte> span, ReadOnlySpan<char> path, out int written)
    {
        written = 0;
        if (!path.ContainsAnyExcept(PlainPathChars))
        {
            // The usual path: printable ASCII with nothing to escape, copied in one vectorized step.
            return Encoding.ASCII.TryGetBytes(path, span, out written);
        }
        Span<byte> one = stackalloc byte[4];
        foreach (var rune in path.EnumerateRunes())
        {
            var value = rune.Value;
            if (value is < 0x21 or 0x7f or '"' or '\\')
            {
                if (span.Length - written < 4)
                {
                    return false;
                }
                span[written++] = (byte)'\\';
                span[written++] = (byte)'x';
                span[written++] = HexDigit(value >> 4);
                span[written++] = HexDigit(value & 0xf);
                continue;
            }
            var length = rune.EncodeToUtf8(one);
            if (span.Length - written < length)
            {
                return false;
            }
            one[..length].CopyTo(span[written..]);
            written += length;
        }
        return true;
    }

    private static byte HexDigit(int value) => (byte)(value < 10 ? '0' + value : 'A' + value - 10);

    private void Flush()
    {
        lock (_gate)
        {
            if (_length > 0)
            {
                HandOffLocked();
            }
        }
    }

    private void HandOffLocked()
    {
        if (!_full.Writer.TryWrite((_buffer, _length)))
        {
            Log.WriteFailed(_logger, _length, "the disk is not keeping up");
            ArrayPool<byte>.Shared.Return(_buffer);
        }
        _buffer = ArrayPool<byte>.Shared.Rent(_options.BufferBytes);
        _length = 0;
    }

    private static FileStream Open(string path) =>
        new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);

    /// <summary>Writes the handed-over buffers in order; returns the file it ends with (rotation replaces it).</summary>
    private async Task<Stream> WriteLoopAsync(Stream file)
    {
        // A buffer holds whole lines, so rotating between two buffers never splits a line.
        var size = file.CanSeek ? file.Length : 0;
        await foreach (var (buffer, length) in _full.Reader.ReadAllAsync())
        {
            try
            {
                if (file.CanSeek && size > 0 && size + length > _options.MaxFileBytes)
                {
                    if (TryRotate() is { } next)
                    {
                        await file.DisposeAsync();
                        file = next;
                    }
                    size = 0; // after a failed rotation, the next try comes another MaxFileBytes later
                }
                await file.WriteAsync(buffer.AsMemory(0, length));
                await file.FlushAsync();
                size += length;
            }
            catch (IOException ex)
            {
                Log.WriteFailed(_logger, length, ex.Message);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        return file;
    }

    /// <summary>
    /// Shifts the rotated files up by one and renames the current file <c>Path.1</c> (the open handle follows it),
    /// then opens a new file at the path. On failure the log goes on into the file it was writing.
    /// </summary>
    private FileStream? TryRotate()
    {
        var path = _options.Path!;
        try
        {
            File.Delete($"{path}.{_options.RetainedFiles}");
            for (var n = _options.RetainedFiles - 1; n >= 1; n--)
            {
                if (File.Exists($"{path}.{n}"))
                {
                    File.Move($"{path}.{n}", $"{path}.{n + 1}");
                }
            }
            File.Move(path, $"{path}.1");
            return Open(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.RotateFailed(_logger, path, ex.Message);
            return null;
        }
    }

    /// <summary>Writes what is buffered and closes the file; lines written after this are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_file is null)
            {
                return;
            }
            if (_length > 0)
            {
                HandOffLocked();
            }
            _file = null;
            _full.Writer.TryComplete();
        }
        if (_timer is not null)
        {
            await _timer.DisposeAsync();
        }
        await (await _writer).DisposeAsync();
    }

    private static partial class Log
    {
        [LoggerMessage(110, LogLevel.Error, "Access log: {Bytes} bytes could not be written and are lost. {Reason}")]
        public static partial void WriteFailed(ILogger logger, int bytes, string reason);

        [LoggerMessage(111, LogLevel.Error, "Access log: {Path} could not be rotated; lines go on into the current file. {Reason}")]
        public static partial void RotateFailed(ILogger logger, string path, string reason);
    }
}

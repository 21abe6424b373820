namespace Portico.Gateway.Caching;

/// <summary>
/// Passes the response body through to the client and keeps a copy, up to a limit, for the cache. When the
/// answer declared its length, <paramref name="beforeLastWrite"/> runs with the whole body just before the
/// last bytes go out, so the entry exists before the client can see a complete answer and ask again.
/// </summary>
internal sealed class CaptureStream(Stream inner, int limit, Func<long?> declaredLength, Func<byte[], ValueTask> beforeLastWrite) : Stream
{
    private readonly MemoryStream _copy = new();

    /// <summary>False once the body grew past the limit: the copy is incomplete and must not be stored.</summary>
    public bool Complete { get; private set; } = true;

    /// <summary>The body was handed to <c>beforeLastWrite</c> already.</summary>
    public bool Delivered { get; private set; }

    public byte[] Captured => _copy.ToArray();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Keep(buffer);
        inner.Write(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        if (Complete && !Delivered && _copy.Length > 0 && declaredLength() == _copy.Length)
        {
            Delivered = true;
            await beforeLastWrite(_copy.ToArray());
        }
        await inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Keep(ReadOnlySpan<byte> buffer)
    {
        if (!Complete)
        {
            return;
        }
        if (_copy.Length + buffer.Length > limit)
        {
            Complete = false;
            _copy.SetLength(0);
            return;
        }
        _copy.Write(buffer);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _copy.Dispose();
        }
        base.Dispose(disposing);
    }
}

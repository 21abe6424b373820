namespace Portico.Loyalty.Ledger;

/// <summary>
/// Lets one ledger write at a time into a SQLite database from this process.
/// </summary>
/// <remarks>
/// SQLite has a single writer per file: a second writer's <c>BEGIN IMMEDIATE</c> gets SQLITE_BUSY, and
/// Microsoft.Data.Sqlite retries that by blocking its thread. Two hundred concurrent accruals would park two
/// hundred thread-pool threads that way. Queuing them here instead, on an async semaphore, costs no thread and
/// serializes exactly what SQLite would serialize anyway. <c>BEGIN IMMEDIATE</c> still guards against other
/// processes on the same file. On PostgreSQL the gate is open: there each write locks only its user's
/// account row (<c>SELECT … FOR UPDATE</c>), so different users write in parallel.
/// </remarks>
public sealed class SqliteWriteGate : IDisposable
{
    private readonly SemaphoreSlim _semaphore = new(1, 1);

    public async ValueTask<Lease> EnterAsync(bool isSqlite, CancellationToken cancellationToken)
    {
        if (!isSqlite)
        {
            return default;
        }
        await _semaphore.WaitAsync(cancellationToken);
        return new Lease(_semaphore);
    }

    public void Dispose() => _semaphore.Dispose();

    public readonly struct Lease(SemaphoreSlim? semaphore) : IDisposable
    {
        public void Dispose() => semaphore?.Release();
    }
}

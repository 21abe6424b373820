using System.Diagnostics;
using Npgsql;
using Portico.Tests.Common;
using static Portico.Deploy.Tests.DeployFiles;

namespace Portico.Deploy.Tests;

/// <summary>
/// The engines overlay's <c>create-service-databases.sh</c>, run with psql against the real PostgreSQL 15 that
/// scripts/test.sh starts: one login and one database per service, and no login may connect to another's database.
/// </summary>
public sealed class PostgresInitScriptTests
{
    private static readonly string[] Services = ["identity", "catalog", "ordering", "loyalty", "reporting"];

    [Fact]
    public async Task Each_service_gets_its_own_login_and_database_and_no_other()
    {
        // Only for the server to connect to; the script creates its own databases.
        await using var probe = await PostgresTestDatabase.CreateAsync("deploy_probe");
        var server = new NpgsqlConnectionStringBuilder(probe.ConnectionString);
        await DropAsync(server);
        try
        {
            var script = new ProcessStartInfo("sh", PathOf("deploy/k8s/overlays/engines/create-service-databases.sh")) { RedirectStandardError = true, RedirectStandardOutput = true };
            script.Environment["PGHOST"] = server.Host;
            script.Environment["PGPORT"] = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            script.Environment["POSTGRES_USER"] = server.Username;
            foreach (var service in Services)
            {
                script.Environment[$"{service.ToUpperInvariant()}_DB_PASSWORD"] = $"pw-{service}-{Guid.NewGuid():N}";
            }
            using (var process = Process.Start(script)!)
            {
                var errors = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
                await process.WaitForExitAsync(TestContext.Current.CancellationToken);
                Assert.True(process.ExitCode == 0, $"the script failed: {errors}");
            }

            foreach (var service in Services)
            {
                await using (var own = new NpgsqlConnection(Login(server, service, service)))
                {
                    await own.OpenAsync(TestContext.Current.CancellationToken);
                    await using var create = new NpgsqlCommand("CREATE TABLE probe (id int)", own);
                    await create.ExecuteNonQueryAsync(TestContext.Current.CancellationToken); // owner of its database
                }
                var other = Services.First(s => s != service);
                await using var foreign = new NpgsqlConnection(Login(server, service, other));
                var refused = await Assert.ThrowsAsync<PostgresException>(() => foreign.OpenAsync(TestContext.Current.CancellationToken));
                Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
            }
        }
        finally
        {
            await DropAsync(server);
        }
    }

    private static string Login(NpgsqlConnectionStringBuilder server, string user, string database) =>
        new NpgsqlConnectionStringBuilder(server.ConnectionString) { Username = user, Database = database, Pooling = false }.ConnectionString;

    private static async Task DropAsync(NpgsqlConnectionStringBuilder server)
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server.ConnectionString) { Database = "postgres" }.ConnectionString);
        await admin.OpenAsync();
        foreach (var service in Services)
        {
            await using var dropDatabase = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{service}\" WITH (FORCE)", admin);
            await dropDatabase.ExecuteNonQueryAsync();
            await using var dropRole = new NpgsqlCommand($"DROP ROLE IF EXISTS \"{service}\"", admin);
            await dropRole.ExecuteNonQueryAsync();
        }
    }
}

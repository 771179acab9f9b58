using Npgsql;

namespace Checkpointing.Postgres.Tests;

/// <summary>
/// The PostgreSQL server the tests use: <c>CHECKPOINTING_POSTGRES</c> (test.sh starts a throwaway server and sets it),
/// else a server on localhost:5432. Without a server every test that needs one fails and says how to get one.
/// </summary>
internal static class PostgresServer
{
    public const string Variable = "CHECKPOINTING_POSTGRES";

    public const string LocalDefault = "Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres";

    private static readonly Lazy<Task> Check = new(() => EnsureAvailableAsync(ConnectionString, Environment.GetEnvironmentVariable(Variable) is { Length: > 0 }));

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? value : LocalDefault;

    /// <summary>Fails with a clear message when no server answers (checked once per test run).</summary>
    public static Task RequireAsync() => Check.Value;

    /// <summary>A data source on the test server with a small pool, so parallel test classes stay under max_connections.</summary>
    /// <param name="applicationName">The application name the server shows for the data source's sessions.</param>
    /// <param name="loggerFactory">Receives Npgsql's own log, or null for none.</param>
    public static NpgsqlDataSource CreateDataSource(string? applicationName = null, Microsoft.Extensions.Logging.ILoggerFactory? loggerFactory = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { MaxPoolSize = 25, ApplicationName = applicationName ?? "checkpointing-tests" };
        if (loggerFactory is null)
        {
            return NpgsqlDataSource.Create(builder.ConnectionString);
        }

        var dataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString);
        dataSource.UseLoggerFactory(loggerFactory);
        return dataSource.Build();
    }

    internal static async Task EnsureAvailableAsync(string connectionString, bool fromVariable)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Timeout = 5, Pooling = false };
        try
        {
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"No PostgreSQL server answered at {builder.Host}:{builder.Port} as '{builder.Username}' " +
                $"({(fromVariable ? $"from {Variable}" : $"the local default; {Variable} is not set")}): {e.Message.TrimEnd('.')}. " +
                $"Run ./test.sh, which starts a throwaway server, or set {Variable} to the connection string of a server where you may create schemas.",
                e);
        }
    }
}

using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Checkpointing.Postgres;

/// <summary>
/// Options of the <see cref="PostgresCheckpointStore"/>. Say where the database is with exactly one of
/// <see cref="DataSource"/>, <see cref="ConnectionString"/> and <see cref="DataSourceKey"/>.
/// </summary>
public sealed class PostgresStoreOptions
{
    /// <summary>The default <see cref="SchemaName"/>.</summary>
    public const string DefaultSchemaName = "checkpointing";

    /// <summary>An Npgsql data source the application owns (it is not disposed by the store).</summary>
    /// <value>Default: null. Set by <c>UsePostgres(NpgsqlDataSource)</c>.</value>
    public NpgsqlDataSource? DataSource { get; set; }

    /// <summary>An Npgsql connection string, e.g. <c>Host=db;Username=app;Password=…;Database=app</c>. The store builds and owns a data source from it.</summary>
    /// <value>Default: null.</value>
    public string? ConnectionString { get; set; }

    /// <summary>The service key of an <see cref="NpgsqlDataSource"/> registered in DI as a keyed service (e.g. by <c>AddNpgsqlDataSource(…, serviceKey: "pg")</c>).</summary>
    /// <value>Default: null.</value>
    public string? DataSourceKey { get; set; }

    /// <summary>The PostgreSQL schema holding the store's tables; created when missing. Several stores may share a database with different schemas.</summary>
    /// <value>Default: <c>checkpointing</c>. 1-63 characters from a-z, 0-9 and '_', starting with a letter or '_', not starting with <c>pg_</c>.</value>
    public string SchemaName { get; set; } = DefaultSchemaName;

    /// <summary>Whether the store creates or upgrades its schema on first use.</summary>
    /// <value>Default: true. When false, run <see cref="PostgresCheckpointStore.MigrateAsync"/> (or let a deployment step do it) before use.</value>
    public bool ApplyMigrations { get; set; } = true;

    /// <summary>How many times a call is retried from the start after a transient failure (serialization failure, deadlock, or a connection the server closed or reset).</summary>
    /// <value>Default: 10. Must be between 0 and 100.</value>
    public int MaxTransientRetries { get; set; } = 10;
}

/// <summary>Validates <see cref="PostgresStoreOptions"/>, reporting every problem at once with the setting and the fix.</summary>
internal sealed partial class PostgresStoreOptionsValidator : IValidateOptions<PostgresStoreOptions>
{
    private readonly IServiceProvider? _services;

    public PostgresStoreOptionsValidator()
    {
    }

    /// <summary>A validator that also checks, at start-up, that a <see cref="PostgresStoreOptions.DataSourceKey"/> names a registered data source.</summary>
    public PostgresStoreOptionsValidator(IServiceProvider services) => _services = services;

    public ValidateOptionsResult Validate(string? name, PostgresStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = Check(options, requireDatabase: true);
        if (errors.Count == 0 && _services is not null && MissingDataSourceKey(options, _services) is { } missing)
        {
            errors.Add(missing);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>The problem when only <see cref="PostgresStoreOptions.DataSourceKey"/> is set and no data source is registered under it, else null.</summary>
    internal static string? MissingDataSourceKey(PostgresStoreOptions options, IServiceProvider services) =>
        !string.IsNullOrWhiteSpace(options.DataSourceKey) && options.DataSource is null && string.IsNullOrWhiteSpace(options.ConnectionString)
        && (services as Microsoft.Extensions.DependencyInjection.IKeyedServiceProvider)?.GetKeyedService(typeof(NpgsqlDataSource), options.DataSourceKey) is null
            ? $"PostgresStoreOptions.DataSourceKey is '{options.DataSourceKey}', but no NpgsqlDataSource is registered under that key. " +
              $"Register one with services.AddNpgsqlDataSource(connectionString, serviceKey: \"{options.DataSourceKey}\") (package Npgsql.DependencyInjection) " +
              "or services.AddKeyedSingleton, or pass a connection string (a value containing '=') to UsePostgres."
            : null;

    /// <summary>Lists every problem of <paramref name="options"/>.</summary>
    /// <param name="options">The options.</param>
    /// <param name="requireDatabase">Whether exactly one way to reach the database must be set (false when the caller passes a data source itself).</param>
    internal static List<string> Check(PostgresStoreOptions options, bool requireDatabase)
    {
        var errors = new List<string>();
        if (requireDatabase)
        {
            var set = new List<string>();
            if (options.DataSource is not null)
            {
                set.Add("DataSource");
            }

            if (!string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                set.Add("ConnectionString");
            }

            if (!string.IsNullOrWhiteSpace(options.DataSourceKey))
            {
                set.Add("DataSourceKey");
            }

            if (set.Count == 0)
            {
                errors.Add("PostgresStoreOptions: no database is set; set ConnectionString (e.g. 'Host=localhost;Username=app;Password=secret;Database=app'), " +
                    "DataSourceKey (the key of an NpgsqlDataSource registered in DI) or pass an NpgsqlDataSource to UsePostgres.");
            }
            else if (set.Count > 1)
            {
                errors.Add($"PostgresStoreOptions: {string.Join(" and ", set)} are all set; set only one of them.");
            }
        }

        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
                if (string.IsNullOrWhiteSpace(builder.Host))
                {
                    errors.Add("PostgresStoreOptions.ConnectionString has no Host; add 'Host=your-server' (and Username, Password, Database).");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                errors.Add($"PostgresStoreOptions.ConnectionString cannot be parsed ({e.Message}); use the form 'Host=localhost;Username=app;Password=secret;Database=app'.");
            }
        }

        if (options.SchemaName is null || !SchemaPattern().IsMatch(options.SchemaName) || options.SchemaName.StartsWith("pg_", StringComparison.Ordinal))
        {
            errors.Add($"PostgresStoreOptions.SchemaName is '{options.SchemaName}'; use 1-63 characters from a-z, 0-9 and '_', starting with a letter or '_' and not with 'pg_' (the default is '{PostgresStoreOptions.DefaultSchemaName}').");
        }

        if (options.MaxTransientRetries is < 0 or > 100)
        {
            errors.Add($"PostgresStoreOptions.MaxTransientRetries is {options.MaxTransientRetries}; set it between 0 and 100.");
        }

        return errors;
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex SchemaPattern();
}

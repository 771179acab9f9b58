using Checkpointing.Generation;
using Checkpointing;
using Checkpointing.Providers.Replicate;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using VideoPipeline.Phases;
using VideoPipeline.Studio;

namespace VideoPipeline.Hosting;

/// <summary>
/// Builds the generic host: configuration (appsettings.json next to the executable, then environment variables,
/// then <c>--data</c>), logging to stderr, and the Checkpointing SDK with the store, blob store and backend that
/// configuration names.
/// </summary>
public static class AppHost
{
    public static IHost Build(string? dataOverride)
    {
        // 1. Configuration: appsettings.json, then environment variables (Checkpointing__Store=sqlite, …), then --data.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ApplicationName = "VideoPipeline",
            ContentRootPath = AppContext.BaseDirectory,
        });
        Configure(builder, dataOverride);
        return builder.Build();
    }

    /// <summary>Configures a host builder (the generic host's, or a web application's for <c>serve</c>).</summary>
    public static void Configure(IHostApplicationBuilder builder, string? dataOverride)
    {
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true);
        builder.Configuration.AddEnvironmentVariables();
        if (!string.IsNullOrWhiteSpace(dataOverride))
        {
            builder.Configuration.AddInMemoryCollection([new("Checkpointing:DataPath", dataOverride)]);
        }

        var settings = Bind<HostSettings>(builder.Configuration.GetSection(HostSettings.Section));
        var data = DataFolder.Resolve(settings.DataPath, dataOverride is null ? "Checkpointing:DataPath" : "--data");

        // 2. Logging goes to stderr so stdout carries only the commands' output; no colours when redirected.
        builder.Logging.ClearProviders();
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.ColorBehavior = Terminal.IsPlain(Console.IsErrorRedirected) ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Enabled;
        });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        // 3. The pipeline's own settings: models, media, and the studio backend's folder under the data folder.
        //    Each is bound and validated at start-up, so a bad value (Media__Width=0) fails before anything runs.
        builder.Services.AddOptions<VideoPipelineOptions>().Configure(o => Providers.Bind(builder.Configuration.GetSection("VideoPipeline"), o)).ValidateOnStart();
        builder.Services.AddOptions<MediaOptions>().Configure(o => Providers.Bind(builder.Configuration.GetSection("Media"), o)).ValidateOnStart();
        builder.Services.AddOptions<StudioOptions>().Configure(o => Providers.Bind(builder.Configuration.GetSection("Studio"), o)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<VideoPipelineOptions>, VideoPipelineOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<MediaOptions>, MediaOptionsValidator>();
        builder.Services.AddSingleton<IValidateOptions<StudioOptions>, StudioOptionsValidator>();
        builder.Services.PostConfigure<StudioOptions>(o => o.Root = Path.Combine(data, "studio"));
        builder.Services.AddSingleton<VideoAssembler>();
        builder.Services.AddSingleton(new DataFolder(data));

        // 4. The SDK: the four phases, then the stores and the backend that configuration names.
        builder.Services.AddCheckpointing(
            sdk =>
            {
                sdk.AddPipeline(VideoPipelineOptions.PipelineName, pipeline => pipeline
                    .AddPhase<PlanPhase>()
                    .AddPhase<StoryboardPhase>()
                    .AddPhase<ChunksPhase>()
                    .AddPhase<AssemblePhase>());
                Providers.UseStore(sdk, settings, data);
                Providers.UseBlobStore(sdk, settings, data, builder.Configuration);
                Providers.AddBackend(sdk, settings, builder.Configuration);
            },
            options =>
            {
                options.DefaultMaxConcurrency = 2;
                options.LeaseDuration = settings.LeaseDuration;
            });
        builder.Services.AddSingleton(settings);
    }

    private static T Bind<T>(IConfigurationSection section)
        where T : new()
    {
        var value = new T();
        Providers.Bind(section, value);
        return value;
    }

    /// <summary>Runs the start-up validation of every option registered with ValidateOnStart, reporting all errors at once.</summary>
    public static void Validate(IServiceProvider services) => services.GetService<IStartupValidator>()?.Validate();
}

/// <summary>The <c>Checkpointing</c> configuration section: where data lives and which providers to use.</summary>
public sealed class HostSettings
{
    public const string Section = "Checkpointing";

    /// <summary>The data folder (metadata database, blobs, studio jobs). Default: <c>./data</c>.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>The metadata store: <c>sqlite</c> (default), <c>postgres</c> or <c>memory</c> (lost when the process ends).</summary>
    public string Store { get; set; } = Providers.Sqlite;

    /// <summary>The default SQLite database, in the data folder.</summary>
    public const string DefaultSqlite = "checkpoints.db";

    /// <summary>
    /// The SQLite database: a path relative to the data folder, or a connection string. Default: <c>checkpoints.db</c>.
    /// Any other value must name a folder that exists.
    /// </summary>
    public string Sqlite { get; set; } = DefaultSqlite;

    /// <summary>The PostgreSQL connection string, for <c>Store = postgres</c>.</summary>
    public string? Postgres { get; set; }

    /// <summary>The PostgreSQL schema that holds the tables. Default: <c>checkpointing</c>.</summary>
    public string PostgresSchema { get; set; } = "checkpointing";

    /// <summary>The blob store: <c>filesystem</c> (default, under the data folder) or <c>s3</c> (section <c>Checkpointing:S3</c>).</summary>
    public string BlobStore { get; set; } = Providers.FileSystem;

    /// <summary>The generation backend: <c>studio</c> (default, offline) or <c>replicate</c> (needs an API token).</summary>
    public string Backend { get; set; } = StudioBackend.BackendName;

    /// <summary>
    /// How long a process's lease on a run lasts without renewal: after a crash, the run reads as interrupted (and a
    /// worker or a retry takes it over) once this has passed. Default: 30 seconds.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>When true, <c>run</c> and <c>continue</c> queue their phase for a <c>worker</c> process instead of running it (as <c>--queue</c>).</summary>
    public bool Queue { get; set; }
}

/// <summary>The resolved data folder.</summary>
public sealed record DataFolder(string Path)
{
    public string Blobs => System.IO.Path.Combine(Path, "blobs");

    /// <summary>
    /// The full path of the data folder, created on first use (the default <c>./data</c> as much as a folder given
    /// with <c>--data</c>: it is this program's own folder). A file at that path is refused.
    /// </summary>
    public static string Resolve(string setting, string source)
    {
        if (string.IsNullOrWhiteSpace(setting))
        {
            throw new ConfigurationException($"{source} is empty; give the folder for the pipeline's data (default: ./data).");
        }

        string full;
        try
        {
            full = System.IO.Path.GetFullPath(setting);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new ConfigurationException($"{source} '{setting}' is not a valid path: {e.Message}");
        }

        if (File.Exists(full))
        {
            throw new ConfigurationException($"{source} '{full}' is a file; point it at a folder for the pipeline's data (it is created on first use).");
        }

        Directory.CreateDirectory(full);
        return full;
    }
}

/// <summary>
/// The providers this host knows, by configuration name. Adding one (Postgres, S3, another backend) is a case here and
/// a package reference; the phases do not change.
/// </summary>
public static class Providers
{
    public const string Sqlite = "sqlite";
    public const string Memory = "memory";
    public const string Postgres = "postgres";
    public const string FileSystem = "filesystem";
    public const string S3 = "s3";

    /// <summary>The configuration section bound to the S3 blob store's options (<c>Checkpointing__S3__BucketName</c>, …).</summary>
    public const string S3Section = "Checkpointing:S3";

    public static void UseStore(CheckpointingBuilder sdk, HostSettings settings, string data)
    {
        switch (settings.Store.Trim().ToLowerInvariant())
        {
            case Sqlite:
                // The default database sits in the data folder, which exists by now. A path or connection string the
                // user set is taken as typed: a folder that does not exist is refused at start-up, not created.
                var isConnectionString = settings.Sqlite.Contains('=', StringComparison.Ordinal);
                var explicitPath = !string.Equals(settings.Sqlite, HostSettings.DefaultSqlite, StringComparison.Ordinal);
                sdk.UseSqlite(o =>
                {
                    if (isConnectionString)
                    {
                        o.ConnectionString = settings.Sqlite;
                    }
                    else
                    {
                        o.DataSource = Path.Combine(data, settings.Sqlite);
                    }

                    o.CreateMissingFolder = !explicitPath;
                });
                break;
            case Postgres:
                var connectionString = string.IsNullOrWhiteSpace(settings.Postgres)
                    ? throw new ConfigurationException("Checkpointing:Store is 'postgres' but no connection string is set; set Checkpointing:Postgres (env Checkpointing__Postgres), e.g. 'Host=127.0.0.1;Username=postgres;Database=postgres'.")
                    : settings.Postgres;
                if (!connectionString.Contains('=', StringComparison.Ordinal))
                {
                    // UsePostgres would take a value without '=' for the key of a registered data source.
                    throw new ConfigurationException("Checkpointing:Postgres is not a connection string (it has no 'Key=Value' pairs); set it like 'Host=127.0.0.1;Username=postgres;Database=postgres'.");
                }

                sdk.UsePostgres(connectionString, o => o.SchemaName = settings.PostgresSchema);
                break;
            case Memory:
                sdk.UseInMemoryStore();
                break;
            default:
                throw new ConfigurationException($"Checkpointing:Store is '{settings.Store}'; this host knows '{Sqlite}', '{Postgres}' and '{Memory}'.");
        }
    }

    public static void UseBlobStore(CheckpointingBuilder sdk, HostSettings settings, string data, IConfiguration configuration)
    {
        switch (settings.BlobStore.Trim().ToLowerInvariant())
        {
            case FileSystem:
                sdk.UseFileSystemBlobStore(o => o.RootPath = Path.Combine(data, "blobs"));
                break;
            case S3:
                // The package's own options, validated at start-up (bucket name, region or service URL, part sizes);
                // empty keys fall back to the AWS SDK's credentials (AWS_ACCESS_KEY_ID, profiles, instance roles).
                sdk.UseS3(o => Bind(configuration.GetSection(S3Section), o));
                break;
            default:
                throw new ConfigurationException($"Checkpointing:BlobStore is '{settings.BlobStore}'; this host knows '{FileSystem}' and '{S3}'.");
        }
    }

    public static void AddBackend(CheckpointingBuilder sdk, HostSettings settings, IConfiguration configuration)
    {
        var name = settings.Backend.Trim().ToLowerInvariant();
        switch (name)
        {
            case StudioBackend.BackendName:
                sdk.AddBackend<StudioBackend>(name);
                sdk.Services.AddSingleton(sp => new PipelineBackend(sp.GetRequiredKeyedService<IGenerationBackend>(name)));
                break;
            case ReplicateBackend.BackendName:
                // The provider's options from the "Replicate" section (prices of the models in appsettings.json); the
                // provider itself falls back to REPLICATE_API_TOKEN and REPLICATE_BASE_URL and validates at start-up.
                // The phases get the adapter that maps their neutral requests onto each Replicate model.
                sdk.UseReplicate(o => Bind(configuration.GetSection(ReplicateSection), o));
                sdk.Services.AddSingleton<ReplicatePipelineBackend>();
                sdk.Services.AddSingleton(sp => new PipelineBackend(sp.GetRequiredService<ReplicatePipelineBackend>()));
                break;
            default:
                throw new ConfigurationException(
                    $"Checkpointing:Backend is '{settings.Backend}'; this host knows '{StudioBackend.BackendName}' and '{ReplicateBackend.BackendName}'.");
        }
    }

    /// <summary>Binds a section, turning a value that does not convert into a one-line <see cref="ConfigurationException"/>.</summary>
    public static void Bind(IConfigurationSection section, object options)
    {
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            // e.g. "Failed to convert configuration value 'abc' at 'Replicate:PollInterval' to type 'System.TimeSpan'."
            throw new ConfigurationException(e.Message);
        }
    }

    /// <summary>The configuration section bound to <see cref="ReplicateOptions"/>.</summary>
    public const string ReplicateSection = "Replicate";
}

/// <summary>The configuration names a provider this host does not know, or a setting is invalid.</summary>
public sealed class ConfigurationException(string message) : Exception(message);

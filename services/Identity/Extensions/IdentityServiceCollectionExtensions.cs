using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Portico.Data;
using Portico.Identity;
using Portico.Identity.Accounts;
using Portico.Identity.Clients;
using Portico.Identity.Infrastructure;
using Portico.Identity.Keys;
using Portico.Identity.Lockout;
using Portico.Identity.Mail;
using Portico.Identity.Revocation;
using Portico.Identity.Tokens;
using Portico.ServiceDefaults.Store;

namespace Microsoft.Extensions.Hosting;

public static class IdentityServiceCollectionExtensions
{
    /// <summary>Name of the connection string (<c>ConnectionStrings:identitydb</c>).</summary>
    public const string ConnectionStringName = "identitydb";

    /// <summary>The connection string used when none is configured: a SQLite file in the working folder.</summary>
    public const string DefaultConnectionString = "Data Source=identity.db";

    /// <summary>
    /// Registers the Identity service: <see cref="IdentityServiceOptions"/> from the <c>Identity</c> section
    /// validated at start-up, the database (SQLite or PostgreSQL) with its readiness check and start-up
    /// creation, password hashing, lockout, the configured service clients, the signing key ring, token issuing, the
    /// revocation list it writes to the store (<c>ConnectionStrings:store</c>),
    /// JWT bearer validation of the service's own tokens, <see cref="TimeProvider.System"/> (unless one is
    /// registered already) and problem+json error responses.
    /// </summary>
    public static TBuilder AddIdentityServices<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // The bearer handler's challenge has no body of its own; say what is missing.
            if (context.ProblemDetails is { Status: StatusCodes.Status401Unauthorized, Detail: null } problem)
            {
                problem.Detail = "A valid access token is required: send it as 'Authorization: Bearer <token>'.";
            }
        });
        // A request the server rejects while it is read (too large, cut short) is the client's fault, not a 500.
        services.Configure<ExceptionHandlerOptions>(o => o.StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError);
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<IdentityServiceOptions>()
            .BindConfiguration(IdentityServiceOptions.SectionName)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IdentityServiceOptions>, IdentityServiceOptionsValidator>());

        // The connection string is read when the first context is made, so test hosts can override it.
        services.AddDbContext<IdentityDbContext>(
            (sp, options) => ConfigureDatabase(options, sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<IOptions<IdentityServiceOptions>>().Value.Database.Provider),
            contextLifetime: ServiceLifetime.Scoped,
            optionsLifetime: ServiceLifetime.Singleton);
        services.AddHealthChecks().AddDbContextCheck<IdentityDbContext>(ConnectionStringName);
        services.AddHostedService<IdentityDbInitializer>();
        services.AddSingleton<ExpiredRecordCleaner>();
        services.AddHostedService(sp => sp.GetRequiredService<ExpiredRecordCleaner>());

        services.TryAddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        // OWASP's figure for PBKDF2-HMAC-SHA512; hashes with fewer iterations are redone at the next login.
        services.Configure<PasswordHasherOptions>(o => o.IterationCount = AccountPasswords.IterationCount);
        services.TryAddSingleton(_ => new AdminPasswordConsole(Console.Out));
        services.AddSingleton<AccountPasswords>();
        services.AddExceptionHandler<PasswordHashingBusyHandler>();
        services.AddScoped<AdminAccountSeeder>();
        services.AddScoped<LoginLockout>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<ForwardedHeadersOptions>, TrustedProxies>());
        services.AddSigningKeyProtection(builder.Configuration);
        services.AddSingleton<SigningKeyStore>();
        services.AddSingleton<SigningKeyConfigurationManager>();
        services.AddSingleton<ServiceClientAuthenticator>();
        services.AddSingleton<AccessTokenIssuer>();
        services.AddScoped<RefreshTokenService>();
        services.AddSingleton<DevelopmentMailSink>();
        services.AddScoped<EmailVerification>();
        services.AddSingleton<PasswordReset>();
        services.AddHostedService(sp => sp.GetRequiredService<PasswordReset>());
        services.AddScoped<TokenService>();
        // The revocation list in the store (ConnectionStrings:store) that the gateway and every service read.
        services.TryAddSingleton<PorticoStore>();
        services.AddSingleton<RevocationPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<RevocationPublisher>());
        services.AddHealthChecks().Add(new HealthCheckRegistration(RevocationPublisher.HealthCheckName,
            sp => sp.GetRequiredService<RevocationPublisher>(), failureStatus: null, tags: null));
        services.AddScoped<TokenRevocations>();

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<IdentityServiceOptions>, SigningKeyConfigurationManager, TimeProvider>(ConfigureJwtBearer);
        services.AddAuthorization();
        return builder;
    }

    /// <summary>
    /// Which provider a connection string is for: the configured one, or on <c>Auto</c> the shared rule of every
    /// service database (<see cref="ServiceDatabase.IsPostgres"/>: PostgreSQL when it names a host or server).
    /// </summary>
    public static IdentityDatabaseProvider ResolveProvider(IdentityDatabaseProvider configured, string connectionString)
    {
        if (configured != IdentityDatabaseProvider.Auto)
        {
            return configured;
        }
        return ServiceDatabase.IsPostgres(connectionString) ? IdentityDatabaseProvider.Postgres : IdentityDatabaseProvider.Sqlite;
    }

    private static void ConfigureDatabase(DbContextOptionsBuilder options, IConfiguration configuration, IdentityDatabaseProvider configured)
    {
        var connectionString = configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } configuredString
            ? configuredString
            : DefaultConnectionString;
        if (configured == IdentityDatabaseProvider.Auto)
        {
            ServiceDatabase.Configure(options, connectionString);
        }
        else if (configured == IdentityDatabaseProvider.Postgres)
        {
            options.UseNpgsql(connectionString);
        }
        else
        {
            options.UseSqlite(connectionString);
        }
    }

    /// <summary>
    /// <c>/api/auth/me</c> accepts only this service's own tokens: ES256 from its published keys, its issuer
    /// and audience, within their lifetime by the service's clock. Claims keep their JWT names.
    /// </summary>
    private static void ConfigureJwtBearer(
        JwtBearerOptions jwt, IOptions<IdentityServiceOptions> identity, SigningKeyConfigurationManager keys, TimeProvider timeProvider)
    {
        var settings = identity.Value;
        jwt.MapInboundClaims = false;
        jwt.ConfigurationManager = keys;
        jwt.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = settings.Issuer,
            ValidAudience = settings.Audience,
            ValidAlgorithms = [SigningKeyStore.Algorithm],
            ValidTypes = [AccessTokenIssuer.AccessTokenType],
            ClockSkew = settings.ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            // Lifetime by the service's clock (a test clock in tests), not the machine's; and no longer than this
            // service ever issues, so a token minted with a stolen key for a year is refused all the same.
            LifetimeValidator = (notBefore, expires, token, parameters) =>
            {
                var now = timeProvider.GetUtcNow().UtcDateTime;
                return expires is { } exp
                    && now < exp.ToUniversalTime() + parameters.ClockSkew
                    && (notBefore is not { } nbf || nbf.ToUniversalTime() <= now + parameters.ClockSkew)
                    && token is JsonWebToken { IssuedAt: var iat } && iat != DateTime.MinValue
                    && iat <= now + parameters.ClockSkew
                    && exp.ToUniversalTime() - iat <= settings.AccessTokenLifetime;
            },
            NameClaimType = JwtRegisteredClaimNames.Name,
            RoleClaimType = IdentityClaimNames.Role,
        };
    }
}

using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Portico.ServiceDefaults.Authentication;
using Portico.ServiceDefaults.Authentication.Revocation;
using Portico.ServiceDefaults.Store;

namespace Microsoft.Extensions.Hosting;

public static class JwtAuthenticationExtensions
{
    public const string JwksHttpClientName = "portico-jwks";

    /// <summary>The <c>typ</c> header every access token must carry (RFC 9068 §2.1).</summary>
    public const string AccessTokenType = "at+jwt";

    /// <summary>
    /// Bearer-token authentication against Identity's JWKS (<c>Portico:Jwt</c>): issuer, audience (user tokens' shared
    /// audience, or this service's own resource for service tokens), lifetime with a small skew, an asymmetric algorithm
    /// allow-list, the token from the Authorization header only, and not revoked (<see cref="TokenRevocationList"/>,
    /// followed in the store of <c>ConnectionStrings:store</c>; <c>Portico:Jwt:Revocation</c>). Rejections are 401/403
    /// problem+json. A token that validated is remembered for a while (<see cref="CachingTokenHandler"/>).
    /// </summary>
    public static TBuilder AddJwtAuthentication<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddOptions<JwtOptions>().BindConfiguration(JwtOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddHttpClient(JwksHttpClientName);
        services.AddOptions<TokenRevocationOptions>().BindConfiguration(TokenRevocationOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PorticoStore>();
        services.TryAddSingleton<TokenRevocationList>();
        services.AddHostedService(sp => sp.GetRequiredService<TokenRevocationList>());
        services.AddHealthChecks().AddCheck<TokenRevocationHealthCheck>(TokenRevocationHealthCheck.Name);
        services.TryAddSingleton(sp => new CachingTokenHandler(sp.GetRequiredService<TimeProvider>(), revocations: sp.GetRequiredService<TokenRevocationList>())
        {
            MapInboundClaims = false,
        });
        services.AddProblemDetails();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<JwtOptions>, IHttpClientFactory, CachingTokenHandler, TimeProvider>((bearer, jwtOptions, httpClients, tokenHandler, time) =>
            {
                var jwt = jwtOptions.Value;
                bearer.TokenHandlers.Clear();
                bearer.TokenHandlers.Add(tokenHandler);
                bearer.MapInboundClaims = false;
                // Nothing reads the raw token back from the ticket: copying it there cost every request (seen in a profile).
                bearer.SaveToken = false;
                bearer.RequireHttpsMetadata = false;
                bearer.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                    jwt.JwksUrl, new JwksRetriever(), new HttpDocumentRetriever(httpClients.CreateClient(JwksHttpClientName)) { RequireHttps = false })
                {
                    RefreshInterval = jwt.JwksRefreshInterval,
                    AutomaticRefreshInterval = jwt.JwksLifetime,
                    // A key Identity withdrew must stop working when the key set is fetched again, not an hour later.
                    UseLastKnownGoodConfiguration = jwt.JwksLastKnownGoodLifetime > TimeSpan.Zero,
                    LastKnownGoodLifetime = jwt.JwksLastKnownGoodLifetime > TimeSpan.Zero ? jwt.JwksLastKnownGoodLifetime : TimeSpan.FromSeconds(1),
                };
                bearer.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = jwt.Issuer,
                    // User tokens carry the shared audience; a service client's token carries the one resource it was
                    // issued for (RFC 8707), so a token for Loyalty is refused by Ordering.
                    ValidAudiences = jwt.Resource is { } resource ? [jwt.Audience, resource] : [jwt.Audience],
                    ValidAlgorithms = jwt.Algorithms,
                    ClockSkew = jwt.ClockSkew,
                    RequireSignedTokens = true,
                    RequireExpirationTime = true,
                    ValidateIssuerSigningKey = true,
                    // RFC 9068 §2.1/§4: only a JWT that says it is an access token is one.
                    ValidTypes = [AccessTokenType],
                    // exp and nbf by the injected clock, and no longer-lived than Identity may issue (exp - iat).
                    LifetimeValidator = (notBefore, expires, token, parameters) => IsLifetimeValid(notBefore, expires, token, parameters, time, jwt.MaxAccessTokenLifetime),
                    NameClaimType = "name",
                    RoleClaimType = "role",
                };
                bearer.Events = new JwtBearerEvents
                {
                    OnChallenge = static async context =>
                    {
                        context.HandleResponse();
                        context.Response.Headers.WWWAuthenticate = "Bearer";
                        await WriteProblemAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "Unauthorized",
                            context.AuthenticateFailure is null ? "A valid bearer token is required." : "The bearer token is not valid.");
                    },
                    OnForbidden = static context =>
                        WriteProblemAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden", "The token does not grant access to this resource."),
                };
            });
        return builder;
    }

    /// <summary>
    /// <c>exp</c> is required and not past, <c>nbf</c> not ahead (each with the clock skew), and <c>iat</c> is required,
    /// not ahead, and at most <paramref name="maxLifetime"/> before <c>exp</c>.
    /// </summary>
    internal static bool IsLifetimeValid(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters, TimeProvider time, TimeSpan maxLifetime)
    {
        var now = time.GetUtcNow().UtcDateTime;
        return expires is { } exp
            && now < exp.ToUniversalTime() + parameters.ClockSkew
            && (notBefore is not { } nbf || nbf.ToUniversalTime() <= now + parameters.ClockSkew)
            && token is JsonWebToken { IssuedAt: var iat } && iat != DateTime.MinValue
            && iat <= now + parameters.ClockSkew
            && exp.ToUniversalTime() - iat <= maxLifetime;
    }

    private static Task WriteProblemAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        }).AsTask();
    }
}

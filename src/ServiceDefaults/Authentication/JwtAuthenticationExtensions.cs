using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using Portico.ServiceDefaults.Authentication;

namespace Microsoft.Extensions.Hosting;

public static class JwtAuthenticationExtensions
{
    public const string JwksHttpClientName = "portico-jwks";

    /// <summary>
    /// Bearer-token authentication against Identity's JWKS (<c>Portico:Jwt</c>): issuer, audience, lifetime
    /// with a small skew, an asymmetric algorithm allow-list, the token from the Authorization header only.
    /// Rejections are 401/403 problem+json. A token that validated is remembered for a while (<see cref="CachingTokenHandler"/>).
    /// </summary>
    public static TBuilder AddJwtAuthentication<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var services = builder.Services;
        services.AddOptions<JwtOptions>().BindConfiguration(JwtOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddHttpClient(JwksHttpClientName);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new CachingTokenHandler(sp.GetRequiredService<TimeProvider>()) { MapInboundClaims = false });
        services.AddProblemDetails();
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<IOptions<JwtOptions>, IHttpClientFactory, CachingTokenHandler>((bearer, jwtOptions, httpClients, tokenHandler) =>
            {
                var jwt = jwtOptions.Value;
                bearer.TokenHandlers.Clear();
                bearer.TokenHandlers.Add(tokenHandler);
                bearer.MapInboundClaims = false;
                bearer.RequireHttpsMetadata = false;
                bearer.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
                    jwt.JwksUrl, new JwksRetriever(), new HttpDocumentRetriever(httpClients.CreateClient(JwksHttpClientName)) { RequireHttps = false })
                {
                    RefreshInterval = jwt.JwksRefreshInterval,
                    AutomaticRefreshInterval = jwt.JwksLifetime,
                };
                bearer.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = jwt.Issuer,
                    ValidAudience = jwt.Audience,
                    ValidAlgorithms = jwt.Algorithms,
                    ClockSkew = jwt.ClockSkew,
                    RequireSignedTokens = true,
                    RequireExpirationTime = true,
                    ValidateIssuerSigningKey = true,
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

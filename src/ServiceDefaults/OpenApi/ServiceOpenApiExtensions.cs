using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Every Portico HTTP service's own contract: <c>GET /openapi/v1.json</c>, OpenAPI 3.1, generated from its endpoints by
/// Microsoft.AspNetCore.OpenApi. The gateway merges these documents into the public one, and the contract tests compare
/// each with its committed baseline, so what is written here is what clients and reviewers see.
/// </summary>
public static class ServiceOpenApiExtensions
{
    /// <summary>The one document each service publishes.</summary>
    public const string DocumentName = "v1";

    /// <summary>Where it is served: the same path on every service (and on the gateway, for the merged document).</summary>
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>Name of the security scheme in <c>components.securitySchemes</c>: a JWT from Identity in <c>Authorization</c>.</summary>
    public const string BearerScheme = "Bearer";

    /// <summary>Name of the component schema of RFC 9457 problem details, every error answer's body.</summary>
    public const string ProblemSchema = "ProblemDetails";

    /// <summary>Extension on an operation listing the authorization policies it names, beside the bearer requirement.</summary>
    public const string PoliciesExtension = "x-portico-policies";

    public const string ProblemContentType = "application/problem+json";

    /// <summary>
    /// Registers the <c>v1</c> document: OpenAPI 3.1, a bearer security scheme, a security requirement on each operation
    /// that needs a token (with its roles and policies), and problem+json bodies on its error answers.
    /// </summary>
    public static TBuilder AddServiceOpenApi<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var title = builder.Environment.ApplicationName;
        builder.Services.AddOpenApi(DocumentName, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo { Title = title, Version = DocumentName };
                // Services sit behind the gateway and service discovery; a server URL here would be one of many, so none.
                document.Servers = [];
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "An ES256 access token from Identity (POST /api/auth/token), in the Authorization header.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(DescribeOperationAsync);
        });
        return builder;
    }

    /// <summary>Maps <see cref="DocumentPath"/>, open to anyone: the contract is public even where the operations are not.</summary>
    public static IEndpointConventionBuilder MapServiceOpenApi(this IEndpointRouteBuilder app) =>
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();

    private static async Task DescribeOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var document = context.Document ?? throw new InvalidOperationException("The operation transformer runs without its document.");
        if (document.Components?.Schemas?.ContainsKey(ProblemSchema) != true)
        {
            document.AddComponent(ProblemSchema, await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken));
        }

        operation.Responses ??= [];
        var secured = !metadata.OfType<IAllowAnonymous>().Any() && metadata.OfType<IAuthorizeData>().Any();
        if (secured)
        {
            var authorize = metadata.OfType<IAuthorizeData>().ToList();
            // OpenAPI 3.1 §4.8.30: for schemes other than OAuth2/OIDC the list holds the roles the operation requires.
            var roles = authorize.SelectMany(a => (a.Roles ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Distinct(StringComparer.Ordinal).ToList();
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = roles }];
            var policies = authorize.Select(a => a.Policy).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            if (policies.Count > 0)
            {
                operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                operation.Extensions[PoliciesExtension] = new JsonNodeExtension(new JsonArray([.. policies.Select(p => JsonValue.Create(p))]));
            }
            AddProblem(operation, document, "401", "No valid access token.");
            AddProblem(operation, document, "403", "The token's user may not do this.");
        }

        // Every error a service answers is problem+json (RFC 9457): declared responses without a body get that body,
        // and whatever is not declared is the default.
        foreach (var (status, response) in operation.Responses)
        {
            if (response is OpenApiResponse concrete && status.Length == 3 && status[0] is '4' or '5' && (concrete.Content is null || concrete.Content.Count == 0))
            {
                concrete.Content = ProblemContent(document);
            }
        }
        AddProblem(operation, document, "default", "An error, described by RFC 9457 problem details.");
    }

    private static void AddProblem(OpenApiOperation operation, OpenApiDocument document, string status, string description)
    {
        operation.Responses!.TryAdd(status, new OpenApiResponse { Description = description, Content = ProblemContent(document) });
    }

    private static Dictionary<string, OpenApiMediaType> ProblemContent(OpenApiDocument document) => new()
    {
        [ProblemContentType] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
    };
}

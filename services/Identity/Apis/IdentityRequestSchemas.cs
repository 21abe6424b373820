using Microsoft.OpenApi;

namespace Portico.Identity.Apis;

/// <summary>
/// Declares in the OpenAPI document the JSON body an endpoint reads with <see cref="JsonFields"/>, as a component schema
/// made from its record (<c>IdentityRequests.cs</c>).
/// </summary>
/// <remarks>
/// Written as an operation transformer rather than <c>.Accepts&lt;T&gt;("application/json")</c>: accepts metadata is also
/// read by routing, which would then answer a body of another media type with its own 415 before the handler could say
/// what is wrong (and <c>[FromBody]</c> binding would answer its faults one at a time, in its own words). The document
/// changes; what clients get does not.
/// </remarks>
internal static class IdentityRequestSchemas
{
    private const string JsonContentType = "application/json";

    /// <summary>The JSON body <typeparamref name="TBody"/>, required, and the 413 and 415 that <see cref="JsonFields"/> answers.</summary>
    public static RouteHandlerBuilder WithJsonBody<TBody>(this RouteHandlerBuilder endpoint) => endpoint
        .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
        .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
        .AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var document = context.Document ?? throw new InvalidOperationException("The operation transformer runs without its document.");
            var name = typeof(TBody).Name;
            if (document.Components?.Schemas?.ContainsKey(name) != true)
            {
                var schema = await context.GetOrCreateSchemaAsync(typeof(TBody), null, cancellationToken);
                if (typeof(TBody) == typeof(TokenRequest) && schema is OpenApiSchema token)
                {
                    token.OneOf = TokenGrants();
                }
                document.AddComponent(name, schema);
            }
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    [JsonContentType] = new() { Schema = new OpenApiSchemaReference(name, document) },
                },
            };
        });

    /// <summary>
    /// The token request's fields by grant, as the handler checks them: one branch per <c>grant_type</c> (the password
    /// grant also without it), its required fields, and only its own fields (<c>propertyNames</c>).
    /// </summary>
    private static List<IOpenApiSchema> TokenGrants() =>
    [
        Grant("The password grant", GrantTypes.Password, grantTypeRequired: false,
            required: [IdentityFields.Email, IdentityFields.Password], optional: [IdentityFields.ClientId]),
        Grant("The refresh_token grant", GrantTypes.RefreshToken, grantTypeRequired: true,
            required: [IdentityFields.RefreshToken], optional: [IdentityFields.ClientId]),
        Grant("The client_credentials grant", GrantTypes.ClientCredentials, grantTypeRequired: true,
            required: [IdentityFields.ClientId, IdentityFields.ClientSecret], optional: [IdentityFields.Resource]),
    ];

    private static OpenApiSchema Grant(string title, string grantType, bool grantTypeRequired, string[] required, string[] optional) => new()
    {
        Title = title,
        Properties = new Dictionary<string, IOpenApiSchema> { [IdentityFields.GrantType] = new OpenApiSchema { Const = grantType } },
        Required = new HashSet<string>(grantTypeRequired ? [IdentityFields.GrantType, .. required] : required),
        PropertyNames = new OpenApiSchema { Enum = [.. new[] { IdentityFields.GrantType }.Concat(required).Concat(optional).Select(f => (System.Text.Json.Nodes.JsonNode)f)] },
    };
}

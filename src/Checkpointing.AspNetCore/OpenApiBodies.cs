using Microsoft.AspNetCore.Builder;
using Microsoft.OpenApi;

namespace Checkpointing.AspNetCore;

/// <summary>
/// Request bodies described for OpenAPI only. <c>Accepts(...)</c> would also make routing refuse other content types
/// with a bare 415; these endpoints answer that themselves, as problem details.
/// </summary>
internal static class OpenApiBodies
{
    public static RouteHandlerBuilder DescribeBody(this RouteHandlerBuilder builder, string description, params (string MediaType, JsonSchemaType Type, string? Format)[] media) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            var content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal);
            foreach (var (mediaType, type, format) in media)
            {
                var schema = new OpenApiSchema { Type = type, Format = format };
                if (mediaType == "multipart/form-data")
                {
                    schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal) { ["file"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } },
                        Required = new HashSet<string>(StringComparer.Ordinal) { "file" },
                    };
                }

                content[mediaType] = new OpenApiMediaType { Schema = schema };
            }

            operation.RequestBody = new OpenApiRequestBody { Required = true, Description = description, Content = content };
            return Task.CompletedTask;
        });
}

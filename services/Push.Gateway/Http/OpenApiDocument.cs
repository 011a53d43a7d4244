using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Api;
using Google.Protobuf.Reflection;

namespace Push.Gateway.Http;

/// <summary>
/// Builds the OpenAPI 3.0 description of the HTTP/JSON API from the service descriptor and its google.api.http routes,
/// so that it cannot drift from what JSON transcoding serves: one operation per route (operationId = the gRPC method
/// name; an additional GET binding is "{Method}Get"), request and response schemas in the proto3 JSON mapping as the
/// transcoder writes it (lowerCamelCase names, 64-bit integers as numbers, bytes as base64, Duration as "1.5s").
/// </summary>
internal static class OpenApiDocument
{
    private const string StatusSchema = "google.rpc.Status";

    public static string Build(ServiceDescriptor service)
    {
        var schemas = new JsonObject();
        var paths = new JsonObject();
        foreach (var method in service.Methods)
        {
            if (method.GetOptions()?.GetExtension(AnnotationsExtensions.Http) is not { } rule)
            {
                continue;
            }
            AddOperation(paths, schemas, method, rule, method.Name);
            foreach (var extra in rule.AdditionalBindings)
            {
                AddOperation(paths, schemas, method, extra, method.Name + (extra.PatternCase == HttpRule.PatternOneofCase.Get ? "Get" : "Alt"));
            }
        }
        schemas[StatusSchema] = StatusJson();
        var doc = new JsonObject
        {
            ["openapi"] = "3.0.3",
            ["info"] = new JsonObject
            {
                ["title"] = "Push.Grpc control API (HTTP/JSON)",
                ["version"] = service.File.Package,
                ["description"] = $"The HTTP/JSON form of {service.FullName} (gRPC JSON transcoding). Every method is POST /v1/<method-in-kebab-case> "
                    + "with the request message as a JSON body; queries are also GET with the request fields as query parameters. "
                    + "Send 'Authorization: Bearer <control secret>'. Errors are a google.rpc.Status JSON body whose details hold a "
                    + "google.rpc.ErrorInfo (reason) and, for a bad field, a google.rpc.BadRequest.",
            },
            ["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }),
            ["paths"] = paths,
            ["components"] = new JsonObject
            {
                ["securitySchemes"] = new JsonObject
                {
                    ["bearer"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer", ["description"] = "Cluster:ControlSecret (PUSH_CONTROL_SECRET), or the member secret" },
                },
                ["schemas"] = schemas,
            },
        };
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static void AddOperation(JsonObject paths, JsonObject schemas, MethodDescriptor method, HttpRule rule, string operationId)
    {
        var (verb, path) = rule.PatternCase switch
        {
            HttpRule.PatternOneofCase.Get => ("get", rule.Get),
            HttpRule.PatternOneofCase.Post => ("post", rule.Post),
            HttpRule.PatternOneofCase.Put => ("put", rule.Put),
            HttpRule.PatternOneofCase.Delete => ("delete", rule.Delete),
            HttpRule.PatternOneofCase.Patch => ("patch", rule.Patch),
            _ => throw new InvalidOperationException($"{method.FullName}: unsupported google.api.http pattern {rule.PatternCase}"),
        };
        var streaming = method.IsServerStreaming;
        var operation = new JsonObject
        {
            ["operationId"] = operationId,
            ["tags"] = new JsonArray(method.Service.Name),
            ["summary"] = $"{method.Service.FullName}/{method.Name}" + (streaming ? " (server stream: one JSON object per line)" : string.Empty),
            ["x-grpc-method"] = $"/{method.Service.FullName}/{method.Name}",
        };
        if (rule.Body == "*")
        {
            operation["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["content"] = Json(Ref(schemas, method.InputType)),
            };
        }
        else
        {
            var parameters = new JsonArray();
            foreach (var field in method.InputType.Fields.InFieldNumberOrder())
            {
                if (field.FieldType is FieldType.Message && !field.IsMap && field.MessageType.FullName != "google.protobuf.Duration")
                {
                    continue; // nested messages travel in a body only
                }
                if (field.IsMap)
                {
                    continue;
                }
                parameters.Add(new JsonObject
                {
                    ["name"] = field.JsonName,
                    ["in"] = "query",
                    ["required"] = false,
                    ["schema"] = FieldSchema(schemas, field),
                    ["explode"] = true,
                });
            }
            operation["parameters"] = parameters;
        }
        operation["responses"] = new JsonObject
        {
            ["200"] = new JsonObject
            {
                ["description"] = streaming ? "A stream of messages, one JSON object per line" : "OK",
                ["content"] = Json(Ref(schemas, method.OutputType)),
            },
            ["default"] = new JsonObject
            {
                ["description"] = "Error: a google.rpc.Status (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 400 INVALID_ARGUMENT, 404 NOT_FOUND, 503 UNAVAILABLE, ...)",
                ["content"] = Json(new JsonObject { ["$ref"] = $"#/components/schemas/{StatusSchema}" }),
            },
        };
        if (paths[path] is not JsonObject item)
        {
            item = new JsonObject();
            paths[path] = item;
        }
        item[verb] = operation;
    }

    private static JsonObject Json(JsonNode schema) => new() { ["application/json"] = new JsonObject { ["schema"] = schema } };

    private static JsonObject Ref(JsonObject schemas, MessageDescriptor message)
    {
        if (message.FullName == "google.protobuf.Duration")
        {
            return new JsonObject { ["type"] = "string", ["description"] = "A duration in seconds with an 's' suffix, e.g. \"1.5s\"" };
        }
        if (!schemas.ContainsKey(message.FullName))
        {
            var properties = new JsonObject();
            schemas[message.FullName] = new JsonObject { ["type"] = "object", ["properties"] = properties };
            foreach (var field in message.Fields.InFieldNumberOrder())
            {
                var schema = FieldSchema(schemas, field);
                if (field.RealContainingOneof is { } oneof)
                {
                    schema["description"] = $"One of {string.Join(", ", oneof.Fields.Select(f => f.JsonName))} (oneof {oneof.Name})";
                }
                properties[field.JsonName] = schema;
            }
        }
        return new JsonObject { ["$ref"] = $"#/components/schemas/{message.FullName}" };
    }

    private static JsonObject FieldSchema(JsonObject schemas, FieldDescriptor field)
    {
        if (field.IsMap)
        {
            var value = field.MessageType.FindFieldByNumber(2);
            return new JsonObject { ["type"] = "object", ["additionalProperties"] = ScalarOrRef(schemas, value) };
        }
        var single = ScalarOrRef(schemas, field);
        return field.IsRepeated ? new JsonObject { ["type"] = "array", ["items"] = single } : single;
    }

    private static JsonObject ScalarOrRef(JsonObject schemas, FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => new JsonObject { ["type"] = "string" },
        FieldType.Bytes => new JsonObject { ["type"] = "string", ["format"] = "byte" },
        FieldType.Bool => new JsonObject { ["type"] = "boolean" },
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 or FieldType.UInt32 or FieldType.Fixed32 => new JsonObject { ["type"] = "integer", ["format"] = "int32" },
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 or FieldType.UInt64 or FieldType.Fixed64 => new JsonObject { ["type"] = "integer", ["format"] = "int64" },
        FieldType.Double => new JsonObject { ["type"] = "number", ["format"] = "double" },
        FieldType.Float => new JsonObject { ["type"] = "number", ["format"] = "float" },
        FieldType.Enum => new JsonObject { ["type"] = "string", ["enum"] = new JsonArray(field.EnumType.Values.Select(v => (JsonNode)v.Name).ToArray()) },
        FieldType.Message => Ref(schemas, field.MessageType),
        _ => throw new InvalidOperationException($"{field.FullName}: unsupported field type {field.FieldType}"),
    };

    private static JsonObject StatusJson() => new()
    {
        ["type"] = "object",
        ["description"] = "google.rpc.Status: the gRPC status code, a message and typed details",
        ["properties"] = new JsonObject
        {
            ["code"] = new JsonObject { ["type"] = "integer", ["format"] = "int32", ["description"] = "google.rpc.Code, e.g. 3 INVALID_ARGUMENT, 16 UNAUTHENTICATED" },
            ["message"] = new JsonObject { ["type"] = "string" },
            ["details"] = new JsonObject
            {
                ["type"] = "array",
                ["items"] = new JsonObject
                {
                    ["type"] = "object",
                    ["description"] = "google.rpc.ErrorInfo {reason, domain, metadata} or google.rpc.BadRequest {fieldViolations}",
                    ["properties"] = new JsonObject { ["@type"] = new JsonObject { ["type"] = "string" } },
                    ["additionalProperties"] = true,
                },
            },
        },
    };
}

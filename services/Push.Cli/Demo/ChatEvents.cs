using System.Text.Json;
using Push.Worker;

namespace Push.Cli.Demo;

/// <summary>
/// The demo worker (the seed's Events.php): greets each client with {"clientId":"..."} and runs a tiny chat.
/// Text that is not a JSON command is echoed back to the sender, followed by <see cref="RedeliveredSuffix"/> when the
/// gateway redelivered it (the worker it first went to died before acknowledging it: that worker may have echoed it
/// already); binary is echoed as binary. Commands:
/// {"type":"join","group":"g"}, {"type":"leave","group":"g"}, {"type":"say","group":"g","text":"..."},
/// {"type":"bind","uid":"u"}, {"type":"whoami"}.
/// </summary>
internal sealed class ChatEvents : BusinessEvents
{
    /// <summary>Appended to the echo of a redelivered text message.</summary>
    public const string RedeliveredSuffix = " (redelivered)";

    public override ValueTask OnConnectAsync(ClientContext client)
    {
        client.SendToCurrentClient("{\"clientId\":\"" + client.ClientId + "\"}");
        return ValueTask.CompletedTask;
    }

    public override async ValueTask OnMessageAsync(ClientContext client, ClientMessage message)
    {
        if (!message.IsText)
        {
            client.SendToCurrentClient(message.Binary.Span);
            return;
        }
        var text = message.Text!;
        if (!text.StartsWith("{\"type\"", StringComparison.Ordinal))
        {
            client.SendToCurrentClient(message.Redelivered ? text + RedeliveredSuffix : text);
            return;
        }
        ChatCommand? cmd;
        try
        {
            cmd = JsonSerializer.Deserialize(text, ChatJson.Default.ChatCommand);
        }
        catch (JsonException)
        {
            client.SendToCurrentClient("{\"error\":\"invalid JSON\"}");
            return;
        }
        switch (cmd?.Type)
        {
            case "join" when !string.IsNullOrEmpty(cmd.Group):
                client.JoinGroup(cmd.Group);
                client.Session["room"] = cmd.Group;
                client.SendToCurrentClient("{\"joined\":" + JsonSerializer.Serialize(cmd.Group, ChatJson.Default.String) + "}");
                break;
            case "leave" when !string.IsNullOrEmpty(cmd.Group):
                client.LeaveGroup(cmd.Group);
                client.SendToCurrentClient("{\"left\":" + JsonSerializer.Serialize(cmd.Group, ChatJson.Default.String) + "}");
                break;
            case "bind" when !string.IsNullOrEmpty(cmd.Uid):
                client.BindUid(cmd.Uid);
                client.Session["uid"] = cmd.Uid;
                client.SendToCurrentClient("{\"bound\":" + JsonSerializer.Serialize(cmd.Uid, ChatJson.Default.String) + "}");
                break;
            case "say" when !string.IsNullOrEmpty(cmd.Group) && cmd.Text is not null:
                var line = JsonSerializer.Serialize(new ChatLine { From = client.ClientId, Group = cmd.Group, Text = cmd.Text }, ChatJson.Default.ChatLine);
                await client.Gateway.SendToGroupAsync(cmd.Group, line).ConfigureAwait(false);
                break;
            case "whoami":
                client.SendToCurrentClient(JsonSerializer.Serialize(new WhoAmI { ClientId = client.ClientId, Uid = client.Uid, Session = client.Session.ToDictionary() }, ChatJson.Default.WhoAmI));
                break;
            default:
                client.SendToCurrentClient(text);
                break;
        }
    }
}

internal sealed class ChatCommand
{
    public string? Type { get; set; }
    public string? Group { get; set; }
    public string? Uid { get; set; }
    public string? Text { get; set; }
}

internal sealed class ChatLine
{
    public string? From { get; set; }
    public string? Group { get; set; }
    public string? Text { get; set; }
}

internal sealed class WhoAmI
{
    public string? ClientId { get; set; }
    public string? Uid { get; set; }
    public Dictionary<string, string>? Session { get; set; }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ChatCommand))]
[System.Text.Json.Serialization.JsonSerializable(typeof(ChatLine))]
[System.Text.Json.Serialization.JsonSerializable(typeof(WhoAmI))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ChatJson : System.Text.Json.Serialization.JsonSerializerContext;

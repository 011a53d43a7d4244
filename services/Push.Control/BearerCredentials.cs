using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Push.Control;

/// <summary>
/// Puts "authorization: Bearer SECRET" on every call of an invoker. Each call gets its own copy of the headers: call
/// options and their Metadata are often shared (one per client, one per scatter over several peers), and adding to a
/// shared Metadata once sent two authorization headers on every later call, which the servers refused. The suite's own
/// channels (Push.Hosting) use this too.
/// </summary>
internal static class BearerCredentials
{
    public static CallInvoker Apply(CallInvoker invoker, string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return invoker;
        }
        var value = "Bearer " + secret;
        return invoker.Intercept(given =>
        {
            var headers = new Metadata();
            foreach (var entry in given)
            {
                if (!string.Equals(entry.Key, "authorization", StringComparison.OrdinalIgnoreCase))
                {
                    headers.Add(entry);
                }
            }
            headers.Add("authorization", value);
            return headers;
        });
    }
}

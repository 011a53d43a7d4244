using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;

namespace Push.Hosting.Security;

/// <summary>Registers the suite's authentication (bearer secrets by role) and its one authorization policy.</summary>
internal static class AuthServiceCollectionExtensions
{
    public static IServiceCollection AddPushAuth(this IServiceCollection services)
    {
        services.AddAuthentication(PushAuth.Scheme)
            .AddScheme<AuthenticationSchemeOptions, BearerSecretHandler>(PushAuth.Scheme, _ => { });
        services.AddAuthorizationBuilder()
            .AddPolicy(PushAuth.Policy, p => p.AddAuthenticationSchemes(PushAuth.Scheme).AddRequirements(new AccessRequirement()));
        services.AddSingleton<IAuthorizationHandler, AccessHandler>();
        services.AddSingleton<Credentials>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, GrpcAuthResultHandler>();
        return services;
    }
}

using System;

namespace NpcRuntime.Client
{
    /// <summary>
    /// How to reach a server that has tokens (`serve --auth-tokens`) or TLS
    /// (`serve --tls-cert/--tls-key`, the gRPC-Web port is then https only) on.
    /// Both are optional: a local development server has neither.
    /// </summary>
    /// <example>
    /// <code>
    /// var client = NpcClient.ForGrpcWeb(new Uri("https://npc.example.com:8080/"), new NpcClientOptions
    /// {
    ///     AccessToken = tokenFromYourLogin,               // sent as "authorization: Bearer ..."
    ///     CaCertificatePem = File.ReadAllText("ca.pem"),  // only for a self-signed / private CA
    /// });
    /// </code>
    /// </example>
    public sealed class NpcClientOptions
    {
        string? _accessToken;

        /// <summary>
        /// A token of the server's --auth-tokens file, sent with every call as the
        /// header "authorization: Bearer TOKEN". Null or "": no header. Role "client"
        /// may talk and read quest state; SetQuestState needs role "admin". The token
        /// alone, without "Bearer ": printable ASCII, no spaces (ArgumentException
        /// otherwise; the message never contains the token). Never logged by this package.
        /// </summary>
        public string? AccessToken
        {
            get => _accessToken;
            set
            {
                var token = value?.Trim();
                CheckToken(token);
                _accessToken = string.IsNullOrEmpty(token) ? null : token;
            }
        }

        /// <summary>
        /// PEM text of the certificate authority (or the server's own self-signed
        /// certificate) to trust for https: one or more "-----BEGIN CERTIFICATE-----"
        /// blocks. When set, the server's certificate must chain to one of them and
        /// name the host of the URL; the device's own trusted roots are then not used
        /// (as `curl --cacert`). Null or "": the device's trusted roots (a server with a
        /// certificate from a public CA needs nothing here). Ignored for http:// URLs.
        /// </summary>
        public string? CaCertificatePem { get; set; }

        /// <summary>Whether a token is set, for logs; never shows the token.</summary>
        public override string ToString() =>
            $"NpcClientOptions(access token: {(_accessToken == null ? "none" : "set")}, " +
            $"CA: {(string.IsNullOrWhiteSpace(CaCertificatePem) ? "device roots" : "custom")})";

        static void CheckToken(string? token)
        {
            if (string.IsNullOrEmpty(token))
                return;
            if (token!.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException("pass the access token alone, without \"Bearer \"", nameof(AccessToken));
            foreach (var c in token)
                if (c < '!' || c > '~')
                    throw new ArgumentException(
                        "the access token must be printable ASCII without spaces or line breaks " +
                        "(is it the whole line of the tokens file, role included?)", nameof(AccessToken));
        }
    }
}

using System;
using System.Linq;
using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace NpcRuntime.Client
{
    /// <summary>
    /// Trusts the server's https certificate only when it chains to one of the given
    /// CA certificates (a private CA, or the server's own self-signed certificate) and
    /// is for the host of the URL: X509Chain with the CAs in ChainPolicy.ExtraStore,
    /// then the root of the built chain must be one of them. Nothing else is relaxed:
    /// expired, not-yet-valid, badly signed or wrong-host certificates are refused.
    /// Revocation is not checked (a private CA rarely publishes a CRL).
    /// </summary>
    public sealed class ServerCertificateValidator
    {
        // id-kp-serverAuth: a certificate that limits its usage must allow TLS servers.
        const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
        const string Begin = "-----BEGIN CERTIFICATE-----";
        const string End = "-----END CERTIFICATE-----";

        readonly X509Certificate2[] _trusted;
        volatile string? _lastRejection;

        public ServerCertificateValidator(X509Certificate2Collection trusted)
        {
            if (trusted.Count == 0)
                throw new ArgumentException("no CA certificate to trust", nameof(trusted));
            _trusted = trusted.Cast<X509Certificate2>().ToArray();
        }

        /// <summary>A validator for the certificates of a PEM text (see <see cref="ParsePem"/>).</summary>
        public static ServerCertificateValidator FromPem(string pem) => new ServerCertificateValidator(ParsePem(pem));

        /// <summary>
        /// Every "-----BEGIN CERTIFICATE-----" block of a PEM text. ArgumentException
        /// when there is none or one is not a certificate (a key, a DER file).
        /// </summary>
        public static X509Certificate2Collection ParsePem(string pem)
        {
            var certificates = new X509Certificate2Collection();
            var at = 0;
            while ((at = pem.IndexOf(Begin, at, StringComparison.Ordinal)) >= 0)
            {
                var start = at + Begin.Length;
                var end = pem.IndexOf(End, start, StringComparison.Ordinal);
                if (end < 0)
                    throw new ArgumentException($"CA certificate {certificates.Count + 1} of the PEM has no \"{End}\" line");
                try
                {
                    certificates.Add(new X509Certificate2(Convert.FromBase64String(pem.Substring(start, end - start))));
                }
                catch (Exception e) when (e is FormatException || e is CryptographicException)
                {
                    throw new ArgumentException($"CA certificate {certificates.Count + 1} of the PEM is not a valid certificate: {e.Message}", e);
                }
                at = end + End.Length;
            }
            if (certificates.Count == 0)
                throw new ArgumentException(
                    $"no certificate in the CA PEM: expected \"{Begin}\" blocks (the server's --tls-cert file, " +
                    "or the CA that signed it; not a key)");
            return certificates;
        }

        /// <summary>Why the last refused certificate was refused (for error messages); null if none was.</summary>
        public string? LastRejection => _lastRejection;

        /// <summary>An HttpClientHandler that checks the server's certificate with this validator.</summary>
        public HttpClientHandler CreateHandler() => new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (request, certificate, chain, errors) =>
                Validate(certificate, errors),
        };

        /// <summary>The check, as HttpClientHandler calls it: true to trust the connection.</summary>
        /// <param name="errors">What the platform found; name mismatches and a missing certificate are final, chain errors are re-checked against the CAs.</param>
        public bool Validate(X509Certificate2? certificate, SslPolicyErrors errors)
        {
            var reason = Reject(certificate, errors);
            if (reason != null)
                _lastRejection = reason;
            return reason == null;
        }

        /// <summary>Null when the certificate is trusted, otherwise why not.</summary>
        public string? Reject(X509Certificate2? certificate, SslPolicyErrors errors)
        {
            if (certificate == null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
                return "the server sent no certificate";
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                return $"the certificate ({certificate.Subject}) is not for the host of the URL";

            using var chain = new X509Chain();
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            // The CAs are not in the device's trust store: allow the chain to end at an
            // unknown root here, and require below that this root is one of ours.
            chain.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
            chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuthentication));
            chain.ChainPolicy.ExtraStore.AddRange(_trusted);
            chain.Build(certificate);

            var notOurs = $"the certificate ({certificate.Subject}, issued by {certificate.Issuer}) was not issued by the given CA certificate";
            if (chain.ChainStatus.Any(s => s.Status == X509ChainStatusFlags.PartialChain))
                return notOurs; // the chain reaches none of the given CAs (nor any other root)
            var problems = chain.ChainStatus
                .Where(s => s.Status != X509ChainStatusFlags.NoError && s.Status != X509ChainStatusFlags.UntrustedRoot)
                .Select(s => s.Status + (string.IsNullOrWhiteSpace(s.StatusInformation) ? "" : " (" + s.StatusInformation.Trim() + ")"))
                .ToArray();
            if (problems.Length > 0)
                return $"the certificate ({certificate.Subject}) is not valid: {string.Join(", ", problems)}";
            var elements = chain.ChainElements;
            if (elements.Count == 0)
                return "no certificate chain could be built";
            var root = elements[elements.Count - 1].Certificate;
            if (!_trusted.Any(ca => ca.RawData.SequenceEqual(root.RawData)))
                return notOurs;
            return null;
        }

        /// <summary>A PEM text of one certificate (e.g. to hand a certificate made in code to <see cref="NpcClientOptions.CaCertificatePem"/>).</summary>
        public static string ToPem(X509Certificate2 certificate)
        {
            var text = new StringBuilder(Begin).Append('\n');
            var base64 = Convert.ToBase64String(certificate.RawData);
            for (var i = 0; i < base64.Length; i += 64)
                text.Append(base64, i, Math.Min(64, base64.Length - i)).Append('\n');
            return text.Append(End).Append('\n').ToString();
        }
    }
}

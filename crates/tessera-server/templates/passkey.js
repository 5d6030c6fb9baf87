(function () {
  var form = document.forms.passkeyForm;
  var options = document.getElementById("passkeyOptions");
  if (!form || !options) { return; }
  form.addEventListener("submit", function (event) {
    if (form.credential.value) { return; }
    event.preventDefault();
    var parsed = JSON.parse(options.value);
    var ceremony = form.dataset.ceremony === "create"
      ? navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(parsed) })
      : navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(parsed) });
    ceremony.then(function (credential) {
      form.credential.value = JSON.stringify(credential.toJSON());
      form.submit();
    }, function (error) {
      document.getElementById("passkeyError").textContent = "The passkey was not used (" + error.name + "). Try again.";
    });
  });
})();

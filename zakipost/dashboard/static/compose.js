// The compose page, as TikTok's content sharing guidelines ask: nothing preselected, the
// publish button enabled only once the choices are complete, branded content never
// private, the declaration that matches the disclosure, the video's duration checked
// against the creator's maximum before anything is uploaded.
(() => {
  "use strict";
  const form = document.getElementById("compose");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const texts = $("texts").dataset;
  const maxDuration = Number(form.dataset.maxDuration) || 0;
  const maxBytes = Number(form.dataset.maxBytes) || 0;
  const maxPhotos = Number(form.dataset.maxPhotos) || 35;
  const nickname = form.dataset.nickname;
  const preview = $("preview");
  const progress = $("upload-progress");
  const uploadStatus = $("upload-status");
  const privacy = $("privacy_level");
  const selfOnly = privacy.querySelector('option[value="SELF_ONLY"]');
  const commercial = $("commercial");
  const organic = $("brand_organic_toggle");
  const branded = $("brand_content_toggle");
  const publish = $("publish");
  const publishWhy = $("publish-why");
  const mediaId = $("media_id");
  const mediaIds = $("media-ids");

  // What the media part knows: "none", "busy" (upload or check under way), "ready", "bad".
  const media = { state: mediaId.value || mediaIds.children.length ? "ready" : "none", reason: "" };
  let objectUrls = [];

  const value = (name) => (form.querySelector(`input[name="${name}"]:checked`) || {}).value;
  const kind = () => value("kind") || "video";
  const source = () => value("source") || "upload";
  const mode = () => value("post_mode") || "direct";

  function fieldError(name, message) {
    const slot = $(`${name}-error`);
    if (!slot) return;
    slot.textContent = message || "";
    slot.hidden = !message;
  }

  function setMedia(state, reason) {
    media.state = state;
    media.reason = reason || "";
    fieldError("media", state === "bad" ? reason : "");
    update();
  }

  function clearPreview() {
    objectUrls.forEach((url) => URL.revokeObjectURL(url));
    objectUrls = [];
    preview.replaceChildren();
  }

  function resetMedia() {
    clearPreview();
    mediaId.value = "";
    mediaIds.replaceChildren();
    progress.hidden = true;
    uploadStatus.textContent = "";
    $("video-file").value = "";
    $("photo-files").value = "";
    setMedia("none");
  }

  function tooLong(seconds) {
    return maxDuration && seconds > maxDuration + 0.5
      ? `This video is ${Math.round(seconds)} seconds long; ${nickname} can post videos of up to ${maxDuration} seconds. Choose a shorter video.`
      : "";
  }

  // The video's duration from its metadata, read by the browser (null when it cannot).
  function readDuration(video) {
    return new Promise((resolve) => {
      if (video.readyState >= 1) return resolve(video.duration);
      video.addEventListener("loadedmetadata", () => resolve(video.duration), { once: true });
      video.addEventListener("error", () => resolve(null), { once: true });
    });
  }

  function videoPreview(src) {
    const video = document.createElement("video");
    video.controls = true;
    video.preload = "metadata";
    video.muted = true;
    video.playsInline = true;
    video.src = src;
    video.setAttribute("aria-label", "Preview of the video");
    preview.replaceChildren(video);
    return video;
  }

  function photoPreview(sources) {
    const cover = Number(preview.dataset.cover) || 0;
    const list = document.createElement("ol");
    list.className = "photos";
    sources.forEach((src, index) => {
      const item = document.createElement("li");
      const img = document.createElement("img");
      img.src = src;
      img.alt = `Photo ${index + 1}`;
      const label = document.createElement("label");
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "photo_cover_index";
      radio.value = String(index);
      radio.checked = index === (cover < sources.length ? cover : 0);
      label.append(radio, " Cover");
      item.append(img, label);
      list.append(item);
    });
    preview.replaceChildren(list);
  }

  function upload(file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/dashboard/media?filename=${encodeURIComponent(file.name)}`);
      xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded));
      xhr.addEventListener("load", () => {
        const body = xhr.response || {};
        if (xhr.status === 200) resolve(body);
        else reject(new Error(body.message || `The upload failed (HTTP ${xhr.status}).`));
      });
      xhr.addEventListener("error", () => reject(new Error("The upload was interrupted; try again.")));
      xhr.send(file);
    });
  }

  function showProgress(done, total) {
    progress.hidden = false;
    progress.value = total ? Math.round((done / total) * 100) : 0;
    uploadStatus.textContent = `Uploading… ${progress.value}%`;
  }

  async function chooseVideo(file) {
    clearPreview();
    mediaId.value = "";
    if (!file) return setMedia("none");
    if (maxBytes && file.size > maxBytes) {
      return setMedia("bad", `This file is larger than ZakiPost accepts (${maxBytes.toLocaleString()} bytes).`);
    }
    setMedia("busy", "Checking the video…");
    const url = URL.createObjectURL(file);
    objectUrls.push(url);
    const seconds = await readDuration(videoPreview(url));
    // Checked before the upload: a video too long for this creator is never sent.
    if (seconds !== null && tooLong(seconds)) return setMedia("bad", tooLong(seconds));
    setMedia("busy", "Wait for the upload to finish.");
    try {
      const result = await upload(file, (loaded) => showProgress(loaded, file.size));
      if (result.kind !== "video") throw new Error("This file is not a video.");
      if (tooLong(result.duration_sec || 0)) throw new Error(tooLong(result.duration_sec));
      mediaId.value = result.media_id;
      progress.value = 100;
      uploadStatus.textContent = "Uploaded and checked.";
      setMedia("ready");
    } catch (error) {
      uploadStatus.textContent = "";
      progress.hidden = true;
      setMedia("bad", error.message);
    }
  }

  async function choosePhotos(files) {
    clearPreview();
    mediaIds.replaceChildren();
    if (!files.length) return setMedia("none");
    if (files.length > maxPhotos) return setMedia("bad", `A carousel has at most ${maxPhotos} photos.`);
    const sources = files.map((file) => URL.createObjectURL(file));
    objectUrls.push(...sources);
    photoPreview(sources);
    setMedia("busy", "Wait for the upload to finish.");
    const total = files.reduce((sum, file) => sum + file.size, 0);
    let before = 0;
    try {
      for (const file of files) {
        const result = await upload(file, (loaded) => showProgress(before + loaded, total));
        if (result.kind !== "photo") throw new Error(`${file.name} is not a photo.`);
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "media_ids";
        input.value = result.media_id;
        mediaIds.append(input);
        before += file.size;
      }
      progress.value = 100;
      uploadStatus.textContent = `${files.length} photo${files.length > 1 ? "s" : ""} uploaded and checked.`;
      setMedia("ready");
    } catch (error) {
      mediaIds.replaceChildren();
      uploadStatus.textContent = "";
      progress.hidden = true;
      setMedia("bad", error.message);
    }
  }

  async function videoLink() {
    const url = $("video_url").value.trim();
    clearPreview();
    if (!url) return setMedia("none");
    if (!/^https?:\/\/\S+$/i.test(url)) return setMedia("bad", "Give a link that starts with https:// or http://.");
    setMedia("busy", "Checking the video…");
    const seconds = await readDuration(videoPreview(url));
    if (seconds === null) {
      preview.insertAdjacentHTML("beforeend", '<p class="hint">This browser cannot preview that link; ZakiPost checks the video when it fetches it.</p>');
    } else if (tooLong(seconds)) {
      return setMedia("bad", tooLong(seconds));
    }
    setMedia("ready");
  }

  function photoLinks() {
    const urls = $("photo_urls").value.split("\n").map((line) => line.trim()).filter(Boolean);
    clearPreview();
    if (!urls.length) return setMedia("none");
    if (urls.length > maxPhotos) return setMedia("bad", `A carousel has at most ${maxPhotos} photos.`);
    const bad = urls.find((url) => !/^https?:\/\/\S+$/i.test(url));
    if (bad) return setMedia("bad", `${bad} is not a link that starts with https:// or http://.`);
    photoPreview(urls);
    setMedia("ready");
  }

  function refreshMedia() {
    if (source() === "url") return kind() === "video" ? videoLink() : photoLinks();
    return undefined;
  }

  // Which blocks show: each element's data-show words must all hold.
  function showBlocks() {
    const words = new Set([kind(), source(), mode()]);
    if (kind() === "photo" || mode() === "direct") words.add("text");
    form.querySelectorAll("[data-show]").forEach((element) => {
      element.hidden = !element.dataset.show.split(" ").every((word) => words.has(word));
    });
    const limit = kind() === "photo" ? form.dataset.photoTitleLimit : form.dataset.videoTitleLimit;
    $("title").maxLength = Number(limit);
    $("title-limit").textContent = limit;
  }

  function update() {
    showBlocks();
    const direct = mode() === "direct";
    const disclose = commercial.checked;
    $("brand-options").hidden = !disclose;
    const isBranded = disclose && branded.checked;
    const isOrganic = disclose && organic.checked;

    // Branded content is never private: "Only me" is off while it is selected, and it
    // cannot be selected while "Only me" is chosen.
    const privateChosen = privacy.value === "SELF_ONLY";
    branded.disabled = privateChosen;
    branded.title = privateChosen ? texts.brandedNotPrivate : "";
    $("branded-row").classList.toggle("is-disabled", privateChosen);
    $("branded-private").hidden = !privateChosen;
    if (selfOnly) {
      selfOnly.disabled = isBranded;
      selfOnly.title = isBranded ? texts.brandedNotPrivate : "";
    }
    $("privacy-note").hidden = !isBranded;

    $("label-promotional").hidden = !(isOrganic && !isBranded);
    $("label-paid").hidden = !isBranded;
    $("declaration-branded").hidden = !(direct && isBranded);
    $("declaration-music").hidden = direct && isBranded;
    $("schedule-at").hidden = !$("schedule").checked;

    const reasons = [];
    if (direct && disclose && !organic.checked && !branded.checked) reasons.push(texts.disclosureIncomplete);
    if (direct && !privacy.value) reasons.push(texts.choosePrivacy);
    if (media.state === "none") reasons.push(kind() === "video" ? "Choose the video to post." : "Choose the photos to post.");
    else if (media.state !== "ready") reasons.push(media.reason);
    if ($("schedule").checked && !$("scheduled_at").value) reasons.push("Choose when to publish it.");
    publish.disabled = reasons.length > 0;
    publish.title = reasons[0] || "";
    publishWhy.textContent = reasons.join(" ");
  }

  form.addEventListener("change", (event) => {
    const target = event.target;
    if (target.name === "kind" || target.name === "source") {
      resetMedia();
      refreshMedia();
    } else if (target.id === "video-file") {
      chooseVideo(target.files[0]);
    } else if (target.id === "photo-files") {
      choosePhotos(Array.from(target.files));
    } else if (target.id === "video_url") {
      videoLink();
    } else if (target.id === "photo_urls") {
      photoLinks();
    } else if (target.name === "photo_cover_index") {
      preview.dataset.cover = target.value;
    }
    update();
  });
  form.addEventListener("input", update);
  form.addEventListener("submit", (event) => {
    update();
    if (publish.disabled) {
      event.preventDefault();
      return;
    }
    $("tz_offset_minutes").value = String(new Date().getTimezoneOffset());
    publish.disabled = true;
    publishWhy.textContent = "Sending…";
  });

  $("tz_offset_minutes").value = String(new Date().getTimezoneOffset());
  // A page shown again after an error keeps its links; uploaded media is kept by id.
  if (source() === "url") refreshMedia();
  else if (media.state === "ready") uploadStatus.textContent = "Your upload is kept; choose another file to replace it.";
  update();
})();
